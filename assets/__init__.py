"""Bundled example model and images, shipped as package data."""

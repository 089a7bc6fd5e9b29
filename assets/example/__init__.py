"""The bundled example: a small Fashion-MNIST classifier with calibration and validation images."""

"""Report documents and their renderings (HTML, Markdown, CSV)."""

"""The PySide6 desktop wizard: the only package that imports Qt or pyqtgraph."""

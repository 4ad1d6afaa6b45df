"""Maintainer tools for the Kiln template: rendering, the flag matrix and its checks."""

"""The example domain: notes with tags. Copy its shape for your own domains."""

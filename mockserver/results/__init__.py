"""Result images: their signed URLs (and, with the image issue, their bytes)."""

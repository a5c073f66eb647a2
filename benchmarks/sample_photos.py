"""scikit-image's sample photos, for the benchmarks that time or compare real photos.

scikit-image is a test-only dependency (requirements-test.txt), so a script run after the main
install stops with one line naming what to install, not a traceback.
"""

from __future__ import annotations

import sys


def skimage_data(script: str):
    """skimage.data, or exit naming `script` (e.g. "input_pipeline.py") and the install."""
    try:
        from skimage import data
    except ImportError:
        sys.exit(
            f"error: benchmarks/{script} uses real photos shipped with scikit-image, which the "
            "main install leaves out: pip install -r requirements-test.txt"
        )
    return data

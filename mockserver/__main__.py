"""``python -m mockserver`` is ``dashscope-mock``."""

import sys

from .cli import main

sys.exit(main())

import sys

from replimend_cli import main

sys.exit(main())

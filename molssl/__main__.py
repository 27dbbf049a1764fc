import sys

from molssl.cli import main

sys.exit(main())

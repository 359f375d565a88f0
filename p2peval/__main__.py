import sys

from p2peval.cli import main

sys.exit(main())

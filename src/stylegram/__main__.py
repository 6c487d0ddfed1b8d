import sys

from stylegram.cli.main import main

sys.exit(main())

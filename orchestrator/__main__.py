"""`python -m orchestrator` is `edeposit-amqpd`."""

import sys

from orchestrator.cli import main

sys.exit(main())

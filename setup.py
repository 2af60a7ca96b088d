"""Packaging for edeposit-amqpd: the importable packages, conf/ data and the console scripts."""

import runpy
from pathlib import Path

from setuptools import find_packages, setup

# One table of the old scripts, read without importing the package (orchestrator/script_names.py).
NAMES = runpy.run_path(str(Path(__file__).with_name("orchestrator") / "script_names.py"))
OLD_SCRIPTS: dict[str, str] = NAMES["OLD_SCRIPTS"]

setup(
    name="edeposit-amqpd",
    version="2.0.0",
    description="Run the edeposit AMQP (RabbitMQ) worker daemons from one config file",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.11",
    packages=find_packages(include=["daemons", "daemons.*", "orchestrator", "orchestrator.*",
                                    "ftp_monitor", "ftp_monitor.*", "edeposit", "edeposit.*"]),
    data_files=[("share/edeposit-amqpd/conf", [str(p) for p in sorted(Path("conf").iterdir()) if p.is_file()])],
    install_requires=[
        "pika>=1.3,<2",
        "prometheus_client>=0.20,<1",
        "rich>=13,<16",
        "supervisor>=4.2",
        "watchdog>=3.0",
        "python-daemon>=3.0",
        "configobj>=5.0.8",
        "libpass>=1.9",
        "lxml>=4.9",
        "reportlab>=4.0",
        "docutils>=0.20",
        "PyYAML>=6.0",
    ],
    extras_require={
        "docs": ["sphinx>=7"],
        # Peers for tests/bench/rpc_roundtrip.py only; the daemons never import them.
        "bench": ["nameko>=2.14,<3", "celery>=5.3,<6"],
        "test": ["pytest>=8", "pytest-timeout>=2.3", "ruff>=0.5", "pypdf>=4", "sphinx>=7",
                 "mypy>=1.10", "types-lxml", "types-docutils", "types-reportlab", "types-PyYAML"],
    },
    entry_points={
        "console_scripts": [
            "edeposit-amqpd = orchestrator.cli:main",
            "edeposit-amqp-tool = orchestrator.tool:main",
            f"{NAMES['OLD_TOOL']} = orchestrator.tool:old_main",
            *(f"{script} = orchestrator.old_scripts:{name}" for script, name in OLD_SCRIPTS.items()),
        ],
    },
)

"""The old console scripts' names: setup.py reads this file on its own, so it imports nothing."""

# Old per-daemon script -> the daemon it runs.
OLD_SCRIPTS = {
    "edeposit_amqp_alephdaemon.py": "aleph",
    "edeposit_amqp_calibredaemon.py": "calibre",
    "edeposit_amqp_ftp_managerd.py": "ftp_manager",
    "edeposit_amqp_ftp_monitord.py": "ftp_monitor",
    "edeposit_amqp_antivirusd.py": "antivirus",
    "edeposit_amqp_harvester.py": "harvester",
    "edeposit_amqp_ltpd.py": "ltp",
    "edeposit_amqp_pdfgend.py": "pdfgen",
    "edeposit_amqp_downloaderd.py": "downloader",
    "edeposit_amqp_storaged.py": "storage",
    "edeposit_amqp_marcxml2modsd.py": "marcxml2mods",
    "edeposit_amqp_aleph_link_exportd.py": "aleph_link_export",
}

# The old debugging tool under its old name, beside `edeposit-amqp-tool`.
OLD_TOOL = "edeposit_amqp_tool.py"

"""antivirus: scans files with ClamAV (clamd, or clamscan) and updates its signatures.

Entry point: `daemons.antivirus.handler:react`."""

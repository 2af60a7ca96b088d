"""ltp: writes long-term preservation packages (file, MODS, MD5 manifest, info.xml) and tracks them.

Entry point: `daemons.ltp.handler:react`."""

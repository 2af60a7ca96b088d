"""ftp_manager: manages the FTP users in ProFTPD's AuthUserFile and their home directories.

Entry point: `daemons.ftp_manager.handler:react`. `users` and `homes` are also read by ftp_monitor."""

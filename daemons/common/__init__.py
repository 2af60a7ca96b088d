"""Formats several daemons share: safe XML, MARC records, MODS, ISBN, EPublication and atomic files.

Nothing here imports the RPC runtime or a daemon package."""

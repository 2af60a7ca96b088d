"""Other frameworks' echo RPC services, run as peers in tests/bench/rpc_roundtrip.py (bench extra only)."""

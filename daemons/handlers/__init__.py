"""One module per back end. The contract a handler module follows:

- the callable named in the daemon's `handler` key, called as `react(message, send_back)`; its return
  value is the answer, an exception becomes an error response, `send_back(data)` publishes progress;
- the namedtuple classes in the module's namespace are the structures its daemon decodes from the wire
  (keep helper namedtuples out of it, or they become decodable too);
- optional `OPTIONS_SPEC`: configspec lines that validate the daemon's `[[[options]]]`;
- optional `configure(context)`: called once with a `daemons.context.HandlerContext` before consuming;
- optional `shutdown()`: called after the worker stopped, to end the handler's own threads cleanly;
- optional `health()`: returns None, or a note such as "clamscan not found: apt-get install clamav" when
  the back end is missing; the worker still runs (and answers with errors naming the problem), the note
  is logged and saved to `<state_dir>/notes/<name>.txt`, where `edeposit-amqpd status` shows it.

A handler is a plain function: call it in a unit test with a list's `append` as `send_back`.
"""

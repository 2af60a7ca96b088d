"""One module per back end. The contract a handler module follows:

- the callable named in the daemon's `handler` key, called as `react(message, send_back)`; its return
  value is the answer, an exception becomes an error response, `send_back(data)` publishes progress;
- the namedtuple classes in the module are the structures its daemon decodes from the wire;
- optional `OPTIONS_SPEC`: configspec lines that validate the daemon's `[[[options]]]`;
- optional `configure(context)`: called once with a `daemons.context.HandlerContext` before consuming.

A handler is a plain function: call it in a unit test with a list's `append` as `send_back`.
"""

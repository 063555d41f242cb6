"""The running plant as an OPC UA server (asyncua), fed from the simulator's own message stream
(docs/opcua.md): what a client reads is exactly what the JSON stream carries, and its method
calls go through the command contract like a `cmd` topic (shopfloor/commands.py)."""

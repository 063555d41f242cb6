"""The demo's own ports (broker, collector metrics) are never the dashboard's --port.

A caller that picks the dashboard's port as free (tests do, with shopfloor.broker.free_port)
leaves it unbound until the dashboard starts, so the OS may hand the same port to the demo's
next bind-to-0 (a whole-suite run saw the dashboard fail 'address in use' that way).
"""

from types import SimpleNamespace

from shopfloor.cli import demo


def test_a_port_equal_to_the_dashboards_is_drawn_again(monkeypatch):
    handed = iter([8123, 8123, 9001])
    monkeypatch.setattr(demo, "free_port", lambda: next(handed))
    assert demo.Stack._free_port(SimpleNamespace(port=8123)) == 9001


def test_a_free_port_is_taken_as_it_comes(monkeypatch):
    monkeypatch.setattr(demo, "free_port", lambda: 9002)
    assert demo.Stack._free_port(SimpleNamespace(port=8123)) == 9002

"""Asks an X window to close, as a window manager's close button does: a WM_DELETE_WINDOW
client message (ICCCM), which the toolkit turns into its close request.

    close_window.py TITLE WM_CLASS_INSTANCE

Exits 1 when no window of that title and class is on the display. Runs with Debian's Python,
which has python3-xlib.
"""
import sys

from Xlib import X, display, protocol


def main():
    title, instance = sys.argv[1], sys.argv[2]
    d = display.Display()
    protocols = d.intern_atom("WM_PROTOCOLS")
    delete = d.intern_atom("WM_DELETE_WINDOW")
    sent = 0
    for w in d.screen().root.query_tree().children:
        try:
            if w.get_wm_name() != title or (w.get_wm_class() or ("", ""))[0] != instance:
                continue
            w.send_event(protocol.event.ClientMessage(
                window=w, client_type=protocols, data=(32, [delete, X.CurrentTime, 0, 0, 0])),
                event_mask=X.NoEventMask)
            sent += 1
        except Exception:  # a window that went away while the tree was read
            pass
    d.flush()
    d.close()
    if not sent:
        sys.exit(f"close_window.py: no window {title!r} of class {instance!r}")


main()

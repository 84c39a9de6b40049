"""What the alerts capability caches in a process, and one call that forgets it all."""


def forget_caches() -> None:
    """Forget what this process caches (alarm tags, incidents last written, receiver secrets, compiled routes):
    for tests, which change accounts and policies between cases."""
    from chalicelib.alerts import model, routing, store
    from chalicelib.alerts.receivers import secrets

    model.forget_tags()
    store.forget()
    secrets.forget()
    routing._compiled.clear()

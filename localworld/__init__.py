"""The local world: moto + a Slack stand-in + one Switchboard instance per emulated account. Never deployed."""

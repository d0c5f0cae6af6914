"""The home bridge: shows the daemon's status socket at home (dashboard, MQTT, session log); can never arm."""

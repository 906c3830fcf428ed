"""The ref driver, except that it ignores a batch op's ``history`` argument although
its hello announces compact-history: it always answers in the events form."""

import sys

from dirqkit.drivers import server
from dirqkit.drivers.ref import RefAdapter


class EventsOnly(server.Server):
    def dispatch(self, msg):
        msg.pop("history", None)
        return super().dispatch(msg)


server.Server = EventsOnly  # what serve() builds
sys.exit(server.serve(RefAdapter))

"""The outbox's RPCs: `ListNotifications` (one page), `WatchNotifications` (server
streaming: the page, then each new notice as it is queued), and
`SetNotificationPreferences` (the notices the holder asks for).

A watch costs one waiting coroutine while idle: it learns of new notices by polling the
index (`Watch.poll`, in the thread pool) at a bounded interval, from
`WatchSettings.poll_min_seconds` doubling to `poll_max_seconds` while nothing comes, back
to the minimum after a notice. It ends with OK just before the call's deadline, or after
`max_seconds` (the decision is taken again when the client resumes from the last id it
received), and gives its place among the server's watchers back however it ends.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator

from vault import wire
from vault.domain.model import Actor
from vault.domain.notices import NoticePreferences
from vault.domain.policy import Action
from vault.notification_watch import WatchSettings
from vault.server.calls import Context
from vault.server.rpcs.base import Rpcs
from vault.service import Call
from vault.service.notifications import Watch
from vault.v1 import vault_pb2 as pb

END_MARGIN_SECONDS = 0.2  # a watch ends this long before the call's deadline, with OK


class NotificationRpcs(Rpcs):
    async def ListNotifications(  # noqa: N802 (generated name)
        self, request: pb.ListNotificationsRequest, context: Context
    ) -> pb.ListNotificationsResponse:
        async def body(actor: Actor, call: Call) -> pb.ListNotificationsResponse:
            notices = await self._calls.run(
                self._vault.notices.page,
                actor,
                request.dossier_id,
                request.after_id,
                wire.page_size(request),
                call,
            )
            return pb.ListNotificationsResponse(
                notifications=[wire.notification_to_proto(n) for n in notices]
            )

        return await self._calls.unary(context, Action.NOTIFICATIONS_READ, body)

    async def SetNotificationPreferences(  # noqa: N802 (generated name)
        self, request: pb.SetNotificationPreferencesRequest, context: Context
    ) -> pb.SetNotificationPreferencesResponse:
        async def body(actor: Actor, call: Call) -> pb.SetNotificationPreferencesResponse:
            preferences = NoticePreferences(new_documents=request.new_documents)
            await self._calls.run(
                self._vault.notices.set_preferences, actor, request.dossier_id, preferences, call
            )
            return pb.SetNotificationPreferencesResponse()

        return await self._calls.unary(context, Action.NOTIFICATIONS_SETTING, body)

    async def WatchNotifications(  # noqa: N802 (generated name)
        self, request: pb.WatchNotificationsRequest, context: Context
    ) -> AsyncIterator[pb.Notification]:
        notices = self._vault.notices

        async def body(actor: Actor, call: Call) -> AsyncIterator[pb.Notification]:
            call.dossier = request.dossier_id
            watch = await self._calls.run(
                notices.watch, actor, request.dossier_id, request.after_id, call
            )
            try:
                async for notice in self._follow(watch, request.after_id, context):
                    yield notice
            finally:
                watch.close()

        async for item in self._calls.stream(context, Action.NOTIFICATIONS_READ, body):
            yield item

    async def _follow(
        self, watch: Watch, after_id: int, context: Context
    ) -> AsyncIterator[pb.Notification]:
        settings: WatchSettings = self._vault.notices.settings
        loop = asyncio.get_running_loop()
        remaining = context.time_remaining()
        budget = min(math.inf if remaining is None else remaining, settings.max_seconds)
        end = loop.time() + budget - END_MARGIN_SECONDS
        delay = settings.poll_min_seconds
        while True:
            found = await self._calls.run(watch.poll, after_id)
            for notice in found:
                yield wire.notification_to_proto(notice)
                after_id = notice.notification_id
            if found:
                delay = settings.poll_min_seconds
                continue
            left = end - loop.time()
            if left <= 0:
                return  # OK: the client resumes from the last id it received
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, settings.poll_max_seconds)

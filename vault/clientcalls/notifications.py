"""`VaultClient`'s outbox followed (`watch_notifications`: a stream that ends at the
call's deadline; resume from the last id it gave) and the notices the holder asks for
(`set_notification_preferences`). One page is `AccessCalls`'s `notifications`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import grpc

from vault import wire
from vault.clientcalls.base import CallsBase, vault_error
from vault.domain.model import Notification
from vault.v1 import vault_pb2 as pb


class NotificationCalls(CallsBase):
    def watch_notifications(
        self, dossier_id: uuid.UUID | str, after_id: int = 0, timeout: float | None = None
    ) -> Iterator[Notification]:
        """The outbox from after `after_id`, then each new notice, until the server ends
        the watch (just before `timeout`, or the client's own)."""
        request = pb.WatchNotificationsRequest(dossier_id=str(dossier_id), after_id=after_id)
        dossier = uuid.UUID(str(dossier_id))
        try:
            for notice in self._stub.WatchNotifications(
                request, metadata=self._metadata, timeout=timeout or self._timeout
            ):
                yield wire.notification_from_proto(dossier, notice)
        except grpc.RpcError as error:
            raise vault_error(error) from None

    def set_notification_preferences(
        self, dossier_id: uuid.UUID | str, *, new_documents: bool
    ) -> None:
        """The patient side: be told of each new document someone else deposits, or not."""
        request = pb.SetNotificationPreferencesRequest(
            dossier_id=str(dossier_id), new_documents=new_documents
        )
        self._call(self._stub.SetNotificationPreferences, request)

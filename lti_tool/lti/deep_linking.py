"""The deep-linking response: the activity as a signed LtiResourceLink with its line item."""

from __future__ import annotations

from typing import Any

from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.lineitem import LineItem
from sqlalchemy.orm import Session

from lti_tool.core.activities import ActivitySettings
from lti_tool.core.db.models import Activity, Platform
from lti_tool.lti import keys
from lti_tool.lti.tool_conf import registration_for


class _Resource(DeepLinkResource):
    """pylti1p3's resource link plus the due date, which its `to_dict` leaves out: the line
    item's `endDateTime` and the link's `submission` window (LTI Deep Linking 2.0)."""

    def __init__(self, end_date_time: str | None) -> None:
        self._end_date_time = end_date_time

    def to_dict(self) -> dict[str, object]:
        out = super().to_dict()
        if self._end_date_time:
            line_item = out.get("lineItem")
            if isinstance(line_item, dict):
                line_item["endDateTime"] = self._end_date_time
            out["submission"] = {"endDateTime": self._end_date_time}
        return out


def response_jwt(
    s: Session,
    *,
    platform_id: int,
    deployment_id: str,
    settings_claim: dict[str, Any],
    activity: Activity,
    choice: ActivitySettings,
    launch_url: str,
) -> str:
    """The LtiDeepLinkingResponse, signed with the newest tool key; `iss` is the client_id.
    The line item's scoreMaximum is the activity's points, its label the title."""
    platform = s.get(Platform, platform_id)
    assert platform is not None
    registration = registration_for(platform, keys.signing_key(s))
    line_item = (
        LineItem()
        .set_score_maximum(activity.points)
        .set_label(activity.title)
        .set_resource_id(str(activity.id))
    )
    resource = (
        _Resource(choice.end_date_time)
        .set_url(launch_url)
        .set_title(activity.title)
        .set_custom_params({"activity_id": str(activity.id)})
        .set_lineitem(line_item)
    )
    token: str = DeepLink(registration, deployment_id, settings_claim).get_response_jwt([resource])  # type: ignore[arg-type]
    return token

"""Roles: creating and deleting them, and giving them to members, as Discord checks it.

Discord's rules (https://discord.com/developers/docs/topics/permissions#permission-hierarchy):
a bot needs Manage Roles (or Administrator) to create, delete, give or take roles, and may
only touch roles below its own highest role; a managed role (a bot's, a booster's) is never
given, taken or deleted by hand. A new role is created at the bottom (position 1, just above
@everyone), the others moving up. GUILD_ROLE_CREATE/UPDATE/DELETE go to every client (the
Guilds intent); member updates go only to clients with the privileged Guild Members intent,
which a feed bot does not ask for, so none is sent.
"""

from __future__ import annotations

from typing import Any

from tests.fakediscord._constants import Perm
from tests.fakediscord._internals import _ApiError, _Call, _missing_permissions, _public


class RoleRoutesMixin:
    """Part of FakeDiscord: the guild role and member role routes, and their state."""

    # -- state a test reads or changes ---------------------------------------------------

    def member_roles(self, guild_id: int, user_id: int) -> set[int]:
        """The roles a member holds (besides @everyone)."""
        return set(self._member_roles.get((guild_id, user_id), set()))

    def give_role(self, guild_id: int, user_id: int, role_id: int) -> None:
        """A moderator gives a member a role (no event: see the module's note)."""
        self._role(role_id)
        self._member_roles.setdefault((guild_id, user_id), set()).add(role_id)

    def remove_role(self, role_id: int) -> None:
        """A moderator deletes a role (dispatches GUILD_ROLE_DELETE)."""
        self._forget_role(self._role(role_id))

    def role(self, role_id: int) -> dict[str, Any]:
        return self._role(role_id)

    def roles(self, guild_id: int) -> list[dict[str, Any]]:
        """The guild's roles, @everyone first, then by position."""
        found = [r for r in self._roles.values() if r["_guild_id"] == guild_id]
        return sorted(found, key=lambda r: (r["position"], -int(r["id"])))

    def has_role(self, role_id: int) -> bool:
        return role_id in self._roles

    # -- routes --------------------------------------------------------------------------

    async def _create_role(self, call: _Call) -> Any:
        gid = call.id("gid")
        self._guild(gid)
        self._require_manage_roles(gid)
        body = call.json
        permissions = int(body.get("permissions") or 0)
        if permissions & ~self._bot_guild_permissions(gid):
            raise _missing_permissions()  # a role may not hold what the bot itself lacks
        rid = self._snowflake()
        role = self._role_payload(gid, rid, str(body.get("name") or "new role")[:100], permissions)
        role["mentionable"] = bool(body.get("mentionable"))
        role["hoist"] = bool(body.get("hoist"))
        role["color"] = int(body.get("color") or 0)
        for other in self._roles.values():
            if other["_guild_id"] == gid and int(other["id"]) != gid and other["position"] >= 1:
                other["position"] += 1
                self._broadcast("GUILD_ROLE_UPDATE", {"guild_id": str(gid), "role": _public(other)})
        role["position"] = 1
        self._roles[rid] = role
        self._broadcast("GUILD_ROLE_CREATE", {"guild_id": str(gid), "role": _public(role)})
        return _public(role)

    async def _delete_role(self, call: _Call) -> Any:
        gid = call.id("gid")
        role = self._guild_role(gid, call.id("rid"))
        self._require_manage_roles(gid)
        self._require_below_bot(gid, role)
        if role["managed"] or int(role["id"]) == gid:
            raise _ApiError(400, 50028, "Invalid Role")
        self._forget_role(role)
        return None

    async def _add_member_role(self, call: _Call) -> Any:
        gid, uid = call.id("gid"), call.id("uid")
        role = self._member_role_change(gid, uid, call.id("rid"))
        self._member_roles.setdefault((gid, uid), set()).add(int(role["id"]))
        return None

    async def _remove_member_role(self, call: _Call) -> Any:
        gid, uid = call.id("gid"), call.id("uid")
        role = self._member_role_change(gid, uid, call.id("rid"))
        self._member_roles.get((gid, uid), set()).discard(int(role["id"]))
        return None

    # -- checks --------------------------------------------------------------------------

    def _member_role_change(self, gid: int, uid: int, rid: int) -> dict[str, Any]:
        self._guild(gid)
        if uid not in self._users:
            raise _ApiError(404, 10007, "Unknown Member")
        role = self._guild_role(gid, rid)
        self._require_manage_roles(gid)
        self._require_below_bot(gid, role)
        if role["managed"] or rid == gid:
            raise _ApiError(400, 50028, "Invalid Role")
        return role

    def _guild_role(self, gid: int, rid: int) -> dict[str, Any]:
        role = self._roles.get(rid)
        if role is None or role["_guild_id"] != gid:
            raise _ApiError(404, 10011, "Unknown Role")
        return role

    def _bot_guild_permissions(self, gid: int) -> int:
        return self._permissions_in(None, self.bot_user_id, [self.bot_role_id(gid)], guild_id=gid)

    def _require_manage_roles(self, gid: int) -> None:
        if not self._bot_guild_permissions(gid) & Perm.MANAGE_ROLES:
            raise _missing_permissions()

    def _require_below_bot(self, gid: int, role: dict[str, Any]) -> None:
        """403 for a role at or above the bot's highest role (the owner's bot aside)."""
        top = self._role(self.bot_role_id(gid))
        if _rank(role) >= _rank(top):
            raise _missing_permissions()

    def _forget_role(self, role: dict[str, Any]) -> None:
        gid, rid = role["_guild_id"], int(role["id"])
        del self._roles[rid]
        for (guild_id, _), held in self._member_roles.items():
            if guild_id == gid:
                held.discard(rid)
        self._broadcast("GUILD_ROLE_DELETE", {"guild_id": str(gid), "role_id": str(rid)})


def _rank(role: dict[str, Any]) -> tuple[int, int]:
    """Discord's order of roles: by position, and at the same position the older one higher."""
    return (role["position"], -int(role["id"]))

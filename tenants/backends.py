import pickle

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db.models import Q

from tenants.access import membership_of
from tenants.models import PEOPLE


class ActiveTenantBackend(ModelBackend):
    """Sign-in by email that also refuses the people of a deactivated tenant (SPEC §2).

    ``ModelBackend.get_user`` asks ``user_can_authenticate`` too, so deactivating a tenant also
    ends the sessions its people already have.

    Every request loads its person here. With ``PEOPLE_MEMO`` on (a shared cache: see the
    settings) the row with its membership, tenant and the tenant's ancestors is remembered per
    process (``tenants.models.PEOPLE``, forgotten in every process whenever a person, a
    membership or a tenant is written) and each request gets its own copy of it: no query,
    and nothing one request sets on its user reaches another.
    """

    def user_can_authenticate(self, user) -> bool:
        if not super().user_can_authenticate(user):
            return False
        membership = membership_of(user)
        return membership is None or membership.tenant.is_usable()

    def get_all_permissions(self, user_obj, obj=None) -> set[str]:
        """``ModelBackend``'s answer in one query rather than two (the person's own
        permissions, then their groups'): every admin page asks, before anything else. With
        ``PEOPLE_MEMO`` on the answer is remembered with the person (``tenants.models.PEOPLE``,
        forgotten in every process when a person, a group, a permission or who has them is
        written), so an admin page does not read it every time."""
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):

            def load() -> frozenset[str]:
                if user_obj.is_superuser:
                    perms = Permission.objects.all()
                else:
                    perms = Permission.objects.filter(Q(user=user_obj) | Q(group__user=user_obj))
                names = perms.values_list("content_type__app_label", "codename").order_by()
                return frozenset(f"{app}.{codename}" for app, codename in names)

            if settings.PEOPLE_MEMO and user_obj.pk is not None:
                # Keyed by what the answer is read from on the person's own row too: a person
                # saved with a new superuser flag is forgotten anyway (a User write).
                names = PEOPLE.get(("permissions", user_obj.pk, user_obj.is_superuser), load)
            else:
                names = load()
            user_obj._perm_cache = set(names)  # the request's own copy
        return user_obj._perm_cache

    def get_user(self, user_id):
        if settings.PEOPLE_MEMO:
            remembered = PEOPLE.get(user_id, lambda: self._pickled(user_id))
            user = None if remembered is None else pickle.loads(remembered)  # noqa: S301 - ours
        else:
            user = self._load(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None

    def _load(self, user_id):
        User = get_user_model()
        try:
            return User._default_manager.select_related("membership__tenant__parent").get(
                pk=user_id
            )
        except User.DoesNotExist:
            return None

    def _pickled(self, user_id) -> bytes | None:
        user = self._load(user_id)
        if user is None:
            return None
        # Read the whole chain of ancestors now (a sub-customer's reseller's provider), so a
        # copy answers ``user_can_authenticate`` without a query.
        self.user_can_authenticate(user)
        return pickle.dumps(user, protocol=pickle.HIGHEST_PROTOCOL)

"""Imports every service's models so that `Base.metadata` holds all tables
(Alembic's target). Add a line here when a service gains a models module."""

from stackbox.compute import models as compute_models  # noqa: F401
from stackbox.compute import opmodels as compute_opmodels  # noqa: F401
from stackbox.db.base import Base
from stackbox.identity import models as identity_models  # noqa: F401
from stackbox.identity import models_extra as identity_models_extra  # noqa: F401
from stackbox.image import metadef_models as image_metadef_models  # noqa: F401
from stackbox.image import models as image_models  # noqa: F401
from stackbox.service import models as service_models  # noqa: F401

metadata = Base.metadata

"""Imports every module that defines tables, so that ``Base.metadata`` knows them all.

Alembic's env.py and the test suite import this; add one line per package with tables.
"""

import frontend.models  # noqa: F401
import plugin.admin.models
import plugin.insights.models
import plugin.models
import plugin.notifications.models
import plugin.shopify.models  # noqa: F401
import wallet.models  # noqa: F401

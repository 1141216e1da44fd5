from tests.admin.conftest import api, config, providers, sign  # noqa: F401
from tests.standins.shopify_fixtures import (  # noqa: F401
    connection,
    installed,
    sleeps,
    standin,
)

"""Settings of the test project: promptsync's app and a `coach` app whose models are shaped
like Dev Coach's. promptsync reads its own configuration (LOCAL_DB_*, STAGING_*, PROD_*) from
the environment, not from DATABASES."""

SECRET_KEY = "test-project-only"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = ["promptsync.django", "coach"]
DATABASES: dict = {}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

"""The app's environment as the tests run it, and the AWS resources it needs on moto.

`APP_ENV` is what an Elastic Beanstalk environment's option settings give the app (names of its
tables, bucket, sender, limits); the app tests build the real Flask app from it.
"""

from __future__ import annotations

from app.dev_resources import ensure_app_resources as create_resources

APP_ENV = {
    "APP_VERSION": "v-test",
    "EMAIL_TABLE": "test-passport-emails",
    "ANALYTICS_TABLE": "test-passport-analytics",
    "MEDIA_BUCKET": "test-passport-media",
    "SENDER_EMAIL": "noreply@passport.example.com",
    "SES_CONFIGURATION_SET": "test-passport-mail",
    "CORS_ALLOWED_ORIGINS": "https://app.example.com,http://localhost:3000",
    "REMBG_MODEL": "u2netp",
    "U2NET_HOME": "models",
    "MAX_UPLOAD_MB": "2",
    "AWS_REGION": "us-east-1",
    "PUBLIC_BASE_URL": "https://photos.example.com",
    "ALLOWED_HOSTS": "localhost,127.0.0.1",
}


def ensure_app_resources(env: dict[str, str] = APP_ENV) -> None:
    """The app's tables/bucket/identity on moto. Called per test: another suite's
    ``clean_moto`` may have reset the shared server meanwhile."""
    create_resources(env)

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"

    def ready(self) -> None:
        from apps.core.logs import configure_structlog, install_on_server_loggers

        install_on_server_loggers()
        configure_structlog()

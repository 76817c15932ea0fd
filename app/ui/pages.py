"""Which pages exist, where they sit in the menu and who may open them: the one place the shell and the pages'
own guards read. A page the actor may not open is not registered, so neither the menu nor a direct URL reaches it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.actor import Actor

PAGES_DIR = Path(__file__).resolve().parents[2] / "pages"


@dataclass(frozen=True)
class PageDef:
    file: str
    title: str
    icon: str
    section: str
    any_of: tuple[str, ...] = ()  # permissions, any one of which opens the page; empty: every signed-in user
    hidden: bool = False  # reached from links (a record's detail), not from the menu
    default: bool = False

    @property
    def path(self) -> Path:
        return PAGES_DIR / self.file

    @property
    def url_path(self) -> str:
        return self.file.removesuffix(".py")

    def allows(self, actor: Actor) -> bool:
        return not self.any_of or any(p in actor.permissions for p in self.any_of)


ADMIN_PERMISSIONS = (
    "users:manage",
    "teams:manage",
    "roles:manage",
    "api_keys:manage",
    "webhooks:manage",
    "settings:manage",
    "pipelines:update",
    "custom_fields:create",
)

PAGES: tuple[PageDef, ...] = (
    PageDef("home.py", "My day", ":material/today:", "Workspace", default=True),
    PageDef("pipeline.py", "Pipeline", ":material/view_kanban:", "Workspace", ("deals:read",)),
    PageDef("contacts.py", "Contacts", ":material/person:", "Workspace", ("contacts:read",)),
    PageDef("accounts.py", "Accounts", ":material/domain:", "Workspace", ("accounts:read",)),
    PageDef("tasks.py", "Tasks", ":material/task_alt:", "Workspace", ("tasks:read",)),
    PageDef("search.py", "Search", ":material/search:", "Workspace"),
    PageDef("albedo.py", "Albedo", ":material/smart_toy:", "Workspace", ("albedo:use",)),
    PageDef("deal.py", "Deal", ":material/handshake:", "Workspace", ("deals:read",), hidden=True),
    PageDef("contact.py", "Contact", ":material/person:", "Workspace", ("contacts:read",), hidden=True),
    PageDef("account.py", "Account", ":material/domain:", "Workspace", ("accounts:read",), hidden=True),
    PageDef("dashboards.py", "Dashboards", ":material/monitoring:", "Analytics", ("warehouse:read",)),
    PageDef("forecast.py", "Forecast", ":material/trending_up:", "Analytics", ("forecasts:read",)),
    PageDef("insights.py", "Insights", ":material/insights:", "Analytics", ("insights:manage",)),
    PageDef("report_builder.py", "Report builder", ":material/query_stats:", "Analytics", ("reports:create",)),
    PageDef("imports.py", "Import", ":material/upload_file:", "Data", ("imports:create",)),
    PageDef("admin.py", "Admin", ":material/admin_panel_settings:", "Admin", ADMIN_PERMISSIONS),
    PageDef("models.py", "Models", ":material/model_training:", "Admin", ("scores:manage",)),
)


def existing() -> list[PageDef]:
    """The registered pages whose script exists (pages land one by one)."""
    return [page for page in PAGES if page.path.exists()]


def permitted(actor: Actor) -> list[PageDef]:
    return [page for page in existing() if page.allows(actor)]


def by_file(file: str) -> PageDef:
    return next(page for page in PAGES if page.file == file)

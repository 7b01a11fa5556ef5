"""The public page in the page's language: a catalogue per language, keyed by the English text.

Templates mark text with `_("…")` (Jinja's i18n extension, new style: `%(name)s`
placeholders, values escaped) and translate data such as status labels with the
`tr` filter. English is the identity; every other language must translate every
key (a test checks), so no page is ever half translated. The v2 API, the feeds
and the badges stay in English for Statuspage compatibility.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from jinja2 import Environment, pass_context
from jinja2.runtime import Context

from tocsin.lib import timefmt
from tocsin.lib.timefmt import DateStyle
from tocsin.pages import sparkline

DEFAULT = "en"

_GAPS: dict[tuple[str, bool], str] = {
    ("day", True): "%(n)s day earlier",
    ("day", False): "%(n)s days earlier",
    ("hour", True): "%(n)s hour earlier",
    ("hour", False): "%(n)s hours earlier",
    ("minute", True): "%(n)s minute earlier",
    ("minute", False): "%(n)s minutes earlier",
}
BAR_NO_DATA = "%(day)s: No data"
BAR_STATUS = "%(day)s: %(status)s, %(percent)s%%"

# What Python code hands the templates to translate, besides the status labels and
# the overall status descriptions: error pages and the subscribe form's messages.
MESSAGES = (
    "Error",
    "Bad Request",
    "Unauthorized",
    "Forbidden",
    "Not Found",
    "Method Not Allowed",
    "Conflict",
    "Gone",
    "Unprocessable Entity",
    "Too Many Requests",
    "Internal Server Error",
    "Service Unavailable",
    "page not found",
    "incident not found",
    "write-up not found",
    "history page not found",
    "theme not found",
    "This form has expired. Please submit it again.",
    "Enter a valid email address.",
    "Choose components from the list.",
)
CODE_STRINGS = (
    *_GAPS.values(),
    BAR_NO_DATA,
    BAR_STATUS,
    sparkline.NO_TIMES,
    sparkline.MEDIAN,
    *MESSAGES,
)


@dataclass(frozen=True)
class Language:
    code: str
    """The BCP 47 tag, as `<html lang>` takes it."""
    name: str
    """The language's own name for itself, for the settings screen."""
    dates: DateStyle
    strings: Mapping[str, str] = field(default_factory=dict)
    decimal: str = "."

    def gettext(self, message: str) -> str:
        return self.strings.get(message, message)

    def gap_phrase(self, amount: int, unit: str) -> str:
        return self.gettext(_GAPS[unit, amount == 1]) % {"n": amount}

    def number(self, text: str) -> str:
        """A decimal number written with this language's decimal mark."""
        return text.replace(".", self.decimal)


def language(code: str | None) -> Language:
    """The language for `code`; English for an unknown or empty one."""
    return LANGUAGES.get(code or DEFAULT, LANGUAGES[DEFAULT])


def install(env: Environment) -> None:
    """Give `env` `_()`, the `tr` filter and localised date filters, all reading the
    render context's `language` (a `Language`)."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        _gettext, _ngettext, newstyle=True
    )
    env.filters.update(tr=_translate, timestamp=_timestamp, date=_date, month=_month)


def context_language(context: Context) -> Language:
    found: Language = context["language"]
    return found


@pass_context
def _gettext(context: Context, message: str) -> str:
    return context_language(context).gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, count: int) -> str:
    return context_language(context).gettext(singular if count == 1 else plural)


@pass_context
def _translate(context: Context, text: str) -> str:
    """Data, not template text: no placeholders, so a `%` in it is only a `%`."""
    return context_language(context).gettext(text)


@pass_context
def _timestamp(context: Context, moment: datetime, zone: ZoneInfo) -> str:
    return timefmt.format_timestamp(moment, zone, context_language(context).dates)


@pass_context
def _date(context: Context, day: date) -> str:
    return timefmt.format_date(day, context_language(context).dates)


@pass_context
def _month(context: Context, day: date) -> str:
    return timefmt.format_month(day, context_language(context).dates)


# --- the catalogue: every key in every language -------------------------------------------

_GERMAN: dict[str, str] = {
    "Scheduled for %(start)s – %(end)s": "Geplant für %(start)s – %(end)s",
    "Scheduled for %(start)s": "Geplant für %(start)s",
    "Maintenance": "Wartung",
    "%(days)s days ago": "vor %(days)s Tagen",
    "%(percent)s %% uptime": "%(percent)s %% Verfügbarkeit",
    "No data": "Keine Daten",
    "Today": "Heute",
    "%(hours)s hours ago": "vor %(hours)s Stunden",
    "%(percent)s %% of checks passed": "%(percent)s %% der Prüfungen bestanden",
    "No checks yet": "Noch keine Prüfungen",
    "Now": "Jetzt",
    "Back to the status page": "Zurück zur Statusseite",
    "Incident history": "Störungsverlauf",
    "No incidents reported.": "Keine Störungen gemeldet.",
    "Pages": "Seiten",
    "Newer incidents": "Neuere Störungen",
    "Page %(number)s of %(count)s": "Seite %(number)s von %(count)s",
    "Older incidents": "Ältere Störungen",
    "<bdi>%(name)s</bdi> status": "Status von <bdi>%(name)s</bdi>",
    "Subscribe to updates": "Updates abonnieren",
    "Active incidents": "Aktuelle Störungen",
    "Maintenance in progress": "Laufende Wartung",
    "Upcoming maintenance": "Geplante Wartung",
    "Components": "Komponenten",
    "Past incidents": "Frühere Störungen",
    "Affected components": "Betroffene Komponenten",
    "Updates": "Aktualisierungen",
    "Write-up published": "Bericht veröffentlicht",
    "Read our write-up at %(link)s": "Unser Bericht: %(link)s",
    "Read our write-up": "Unseren Bericht lesen",
    (
        "Get an email when <bdi>%(name)s</bdi> reports an incident or schedules maintenance, "
        "and when either is resolved."
    ): (
        "Erhalten Sie eine E-Mail, wenn <bdi>%(name)s</bdi> eine Störung meldet oder eine "
        "Wartung plant, und wenn beides abgeschlossen ist."
    ),
    "Email address": "E-Mail-Adresse",
    "Leave this field empty": "Dieses Feld leer lassen",
    "Subscribe": "Abonnieren",
    (
        "We will email you a link to confirm. Every email we send has a link to change what "
        "you get or to unsubscribe."
    ): (
        "Wir senden Ihnen einen Bestätigungslink per E-Mail. Jede E-Mail von uns enthält einen "
        "Link, um Ihre Auswahl zu ändern oder das Abonnement zu beenden."
    ),
    "Too many requests": "Zu viele Anfragen",
    "There have been too many subscription requests. Please try again later.": (
        "Es gab zu viele Abonnementanfragen. Bitte versuchen Sie es später erneut."
    ),
    "Check your email": "Sehen Sie in Ihr Postfach",
    (
        "If this address can be subscribed, an email with a confirmation link is on its way. "
        "Open it and confirm to start getting updates about <bdi>%(name)s</bdi>."
    ): (
        "Falls diese Adresse abonniert werden kann, ist eine E-Mail mit einem Bestätigungslink "
        "unterwegs. Öffnen Sie sie und bestätigen Sie, um Updates zu <bdi>%(name)s</bdi> zu "
        "erhalten."
    ),
    "Nothing arrived after a few minutes? Look in your spam folder, or subscribe again later.": (
        "Nach ein paar Minuten nichts angekommen? Sehen Sie im Spam-Ordner nach oder "
        "abonnieren Sie später erneut."
    ),
    "Confirm your subscription": "Abonnement bestätigen",
    "Confirm to get email updates about <bdi>%(name)s</bdi>.": (
        "Bestätigen Sie, um E-Mail-Updates zu <bdi>%(name)s</bdi> zu erhalten."
    ),
    "Confirm subscription": "Abonnement bestätigen",
    "Subscribed": "Abonniert",
    "You are subscribed": "Ihr Abonnement ist aktiv",
    (
        "You will get an email when <bdi>%(name)s</bdi> reports an incident or schedules "
        "maintenance."
    ): (
        "Sie erhalten eine E-Mail, wenn <bdi>%(name)s</bdi> eine Störung meldet oder eine "
        "Wartung plant."
    ),
    "Choose components or unsubscribe": "Komponenten wählen oder abbestellen",
    "Link expired": "Link abgelaufen",
    "This confirmation link has expired": "Dieser Bestätigungslink ist abgelaufen",
    (
        "Confirmation links work for 7 days. To get a new one, subscribe again with the same "
        "address."
    ): (
        "Bestätigungslinks gelten 7 Tage. Für einen neuen Link abonnieren Sie erneut mit "
        "derselben Adresse."
    ),
    "Subscribe again": "Erneut abonnieren",
    (
        "Leave every box unticked to hear about everything on this page. A group covers all of "
        "its components."
    ): (
        "Lassen Sie alle Kästchen leer, um über alles auf dieser Seite informiert zu werden. "
        "Eine Gruppe umfasst alle ihre Komponenten."
    ),
    '<span class="name"><bdi>%(name)s</bdi></span> (all)': (
        '<span class="name"><bdi>%(name)s</bdi></span> (alle)'
    ),
    "Link not valid": "Link ungültig",
    "Status": "Status",
    "This link is not valid": "Dieser Link ist ungültig",
    (
        "It may be incomplete, or a newer email may have replaced it. Use the link in the "
        "latest email you received, or subscribe again."
    ): (
        "Vielleicht ist er unvollständig, oder eine neuere E-Mail hat ihn ersetzt. Verwenden "
        "Sie den Link aus der neuesten E-Mail oder abonnieren Sie erneut."
    ),
    "Your subscription": "Ihr Abonnement",
    "Updates about <bdi>%(name)s</bdi> go to <strong><bdi>%(address)s</bdi></strong>.": (
        "Updates zu <bdi>%(name)s</bdi> gehen an <strong><bdi>%(address)s</bdi></strong>."
    ),
    "The subscription is not confirmed yet: use the link in the confirmation email.": (
        "Das Abonnement ist noch nicht bestätigt: Verwenden Sie den Link in der "
        "Bestätigungs-E-Mail."
    ),
    "Your preferences are saved.": "Ihre Einstellungen sind gespeichert.",
    "You follow one incident, until it is resolved.": (
        "Sie verfolgen eine Störung, bis sie behoben ist."
    ),
    "Save preferences": "Einstellungen speichern",
    "You hear about everything on this page.": "Sie werden über alles auf dieser Seite informiert.",
    "Unsubscribe": "Abbestellen",
    "Stop getting email updates about <bdi>%(name)s</bdi>?": (
        "Keine E-Mail-Updates zu <bdi>%(name)s</bdi> mehr erhalten?"
    ),
    "Unsubscribed": "Abbestellt",
    "You are unsubscribed": "Ihr Abonnement ist beendet",
    "You will get no more updates about <bdi>%(name)s</bdi>.": (
        "Sie erhalten keine Updates zu <bdi>%(name)s</bdi> mehr."
    ),
    'Changed your mind? <a href="/subscribe">Subscribe again</a>.': (
        'Doch anders entschieden? <a href="/subscribe">Erneut abonnieren</a>.'
    ),
    "Write-up: %(name)s": "Bericht: %(name)s",
    "Write-up: <bdi>%(name)s</bdi>": "Bericht: <bdi>%(name)s</bdi>",
    "Published %(when)s": "Veröffentlicht: %(when)s",
    "Back to the incident": "Zurück zur Störung",
    "Incident history (RSS)": "Störungsverlauf (RSS)",
    "Incident history (Atom)": "Störungsverlauf (Atom)",
    "Times are shown in %(zone)s.": "Alle Zeiten in %(zone)s.",
    "Calendar": "Kalender",
    "Operational": "Betriebsbereit",
    "Under maintenance": "In Wartung",
    "Degraded performance": "Eingeschränkte Leistung",
    "Partial outage": "Teilausfall",
    "Major outage": "Schwerer Ausfall",
    "Investigating": "Wird untersucht",
    "Identified": "Ursache gefunden",
    "Monitoring": "Wird beobachtet",
    "Resolved": "Behoben",
    "Postmortem": "Nachbetrachtung",
    "Scheduled": "Geplant",
    "In progress": "Läuft",
    "Verifying": "Wird überprüft",
    "Completed": "Abgeschlossen",
    "All Systems Operational": "Alle Systeme betriebsbereit",
    "Degraded System Service": "Eingeschränkter Systembetrieb",
    "Major System Outage": "Schwerer Systemausfall",
    "Minor Service Outage": "Kleinere Dienststörung",
    "Partial System Outage": "Teilweiser Systemausfall",
    "Partially Degraded Service": "Teilweise eingeschränkter Dienst",
    "Service Under Maintenance": "Dienst in Wartung",
    "%(n)s day earlier": "%(n)s Tag früher",
    "%(n)s days earlier": "%(n)s Tage früher",
    "%(n)s hour earlier": "%(n)s Stunde früher",
    "%(n)s hours earlier": "%(n)s Stunden früher",
    "%(n)s minute earlier": "%(n)s Minute früher",
    "%(n)s minutes earlier": "%(n)s Minuten früher",
    "%(day)s: No data": "%(day)s: Keine Daten",
    "%(day)s: %(status)s, %(percent)s%%": "%(day)s: %(status)s, %(percent)s %%",
    "No response times in the last %(hours)s hours": (
        "Keine Antwortzeiten in den letzten %(hours)s Stunden"
    ),
    (
        "Median response time over the last %(hours)s hours: %(low)s–%(high)s ms, latest "
        "%(latest)s ms"
    ): (
        "Median der Antwortzeit in den letzten %(hours)s Stunden: %(low)s–%(high)s ms, zuletzt "
        "%(latest)s ms"
    ),
    "Error": "Fehler",
    "Bad Request": "Ungültige Anfrage",
    "Unauthorized": "Nicht angemeldet",
    "Forbidden": "Zugriff verweigert",
    "Not Found": "Nicht gefunden",
    "Method Not Allowed": "Methode nicht erlaubt",
    "Conflict": "Konflikt",
    "Gone": "Nicht mehr vorhanden",
    "Unprocessable Entity": "Ungültige Eingabe",
    "Too Many Requests": "Zu viele Anfragen",
    "Internal Server Error": "Interner Serverfehler",
    "Service Unavailable": "Dienst nicht verfügbar",
    "page not found": "Seite nicht gefunden",
    "incident not found": "Störung nicht gefunden",
    "write-up not found": "Bericht nicht gefunden",
    "history page not found": "Verlaufsseite nicht gefunden",
    "theme not found": "Design nicht gefunden",
    "This form has expired. Please submit it again.": (
        "Dieses Formular ist abgelaufen. Bitte senden Sie es erneut ab."
    ),
    "Enter a valid email address.": "Geben Sie eine gültige E-Mail-Adresse ein.",
    "Choose components from the list.": "Wählen Sie Komponenten aus der Liste.",
}

_FRENCH: dict[str, str] = {
    "Scheduled for %(start)s – %(end)s": "Prévue : %(start)s – %(end)s",
    "Scheduled for %(start)s": "Prévue : %(start)s",
    "Maintenance": "Maintenance",
    "%(days)s days ago": "il y a %(days)s jours",
    "%(percent)s %% uptime": "%(percent)s %% de disponibilité",
    "No data": "Aucune donnée",
    "Today": "Aujourd’hui",
    "%(hours)s hours ago": "il y a %(hours)s heures",
    "%(percent)s %% of checks passed": "%(percent)s %% des vérifications réussies",
    "No checks yet": "Aucune vérification pour l’instant",
    "Now": "Maintenant",
    "Back to the status page": "Retour à la page d’état",
    "Incident history": "Historique des incidents",
    "No incidents reported.": "Aucun incident signalé.",
    "Pages": "Pages",
    "Newer incidents": "Incidents plus récents",
    "Page %(number)s of %(count)s": "Page %(number)s sur %(count)s",
    "Older incidents": "Incidents plus anciens",
    "<bdi>%(name)s</bdi> status": "État de <bdi>%(name)s</bdi>",
    "Subscribe to updates": "S’abonner aux mises à jour",
    "Active incidents": "Incidents en cours",
    "Maintenance in progress": "Maintenance en cours",
    "Upcoming maintenance": "Maintenance prévue",
    "Components": "Composants",
    "Past incidents": "Incidents passés",
    "Affected components": "Composants concernés",
    "Updates": "Mises à jour",
    "Write-up published": "Rapport publié",
    "Read our write-up at %(link)s": "Lire notre rapport : %(link)s",
    "Read our write-up": "Lire notre rapport",
    (
        "Get an email when <bdi>%(name)s</bdi> reports an incident or schedules maintenance, "
        "and when either is resolved."
    ): (
        "Recevez un e-mail quand <bdi>%(name)s</bdi> signale un incident ou planifie une "
        "maintenance, puis quand l’un ou l’autre est terminé."
    ),
    "Email address": "Adresse e-mail",
    "Leave this field empty": "Laissez ce champ vide",
    "Subscribe": "S’abonner",
    (
        "We will email you a link to confirm. Every email we send has a link to change what "
        "you get or to unsubscribe."
    ): (
        "Nous vous enverrons un lien de confirmation par e-mail. Chaque e-mail contient un "
        "lien pour modifier ce que vous recevez ou vous désabonner."
    ),
    "Too many requests": "Trop de demandes",
    "There have been too many subscription requests. Please try again later.": (
        "Il y a eu trop de demandes d’abonnement. Veuillez réessayer plus tard."
    ),
    "Check your email": "Consultez vos e-mails",
    (
        "If this address can be subscribed, an email with a confirmation link is on its way. "
        "Open it and confirm to start getting updates about <bdi>%(name)s</bdi>."
    ): (
        "Si cette adresse peut être abonnée, un e-mail avec un lien de confirmation est en "
        "route. Ouvrez-le et confirmez pour recevoir les mises à jour de <bdi>%(name)s</bdi>."
    ),
    "Nothing arrived after a few minutes? Look in your spam folder, or subscribe again later.": (
        "Rien reçu après quelques minutes ? Regardez dans vos indésirables, ou abonnez-vous à "
        "nouveau plus tard."
    ),
    "Confirm your subscription": "Confirmez votre abonnement",
    "Confirm to get email updates about <bdi>%(name)s</bdi>.": (
        "Confirmez pour recevoir par e-mail les mises à jour de <bdi>%(name)s</bdi>."
    ),
    "Confirm subscription": "Confirmer l’abonnement",
    "Subscribed": "Abonné",
    "You are subscribed": "Vous êtes abonné",
    (
        "You will get an email when <bdi>%(name)s</bdi> reports an incident or schedules "
        "maintenance."
    ): (
        "Vous recevrez un e-mail quand <bdi>%(name)s</bdi> signale un incident ou planifie une "
        "maintenance."
    ),
    "Choose components or unsubscribe": "Choisir les composants ou se désabonner",
    "Link expired": "Lien expiré",
    "This confirmation link has expired": "Ce lien de confirmation a expiré",
    (
        "Confirmation links work for 7 days. To get a new one, subscribe again with the same "
        "address."
    ): (
        "Les liens de confirmation sont valables 7 jours. Pour en obtenir un nouveau, "
        "abonnez-vous à nouveau avec la même adresse."
    ),
    "Subscribe again": "S’abonner à nouveau",
    (
        "Leave every box unticked to hear about everything on this page. A group covers all of "
        "its components."
    ): (
        "Ne cochez aucune case pour être informé de tout ce qui concerne cette page. Un groupe "
        "couvre tous ses composants."
    ),
    '<span class="name"><bdi>%(name)s</bdi></span> (all)': (
        '<span class="name"><bdi>%(name)s</bdi></span> (tous)'
    ),
    "Link not valid": "Lien non valide",
    "Status": "État",
    "This link is not valid": "Ce lien n’est pas valide",
    (
        "It may be incomplete, or a newer email may have replaced it. Use the link in the "
        "latest email you received, or subscribe again."
    ): (
        "Il est peut-être incomplet, ou un e-mail plus récent l’a remplacé. Utilisez le lien "
        "du dernier e-mail reçu, ou abonnez-vous à nouveau."
    ),
    "Your subscription": "Votre abonnement",
    "Updates about <bdi>%(name)s</bdi> go to <strong><bdi>%(address)s</bdi></strong>.": (
        "Les mises à jour de <bdi>%(name)s</bdi> sont envoyées à "
        "<strong><bdi>%(address)s</bdi></strong>."
    ),
    "The subscription is not confirmed yet: use the link in the confirmation email.": (
        "L’abonnement n’est pas encore confirmé : utilisez le lien de l’e-mail de confirmation."
    ),
    "Your preferences are saved.": "Vos préférences sont enregistrées.",
    "You follow one incident, until it is resolved.": (
        "Vous suivez un incident, jusqu’à sa résolution."
    ),
    "Save preferences": "Enregistrer les préférences",
    "You hear about everything on this page.": (
        "Vous êtes informé de tout ce qui concerne cette page."
    ),
    "Unsubscribe": "Se désabonner",
    "Stop getting email updates about <bdi>%(name)s</bdi>?": (
        "Ne plus recevoir par e-mail les mises à jour de <bdi>%(name)s</bdi> ?"
    ),
    "Unsubscribed": "Désabonné",
    "You are unsubscribed": "Vous êtes désabonné",
    "You will get no more updates about <bdi>%(name)s</bdi>.": (
        "Vous ne recevrez plus de mises à jour de <bdi>%(name)s</bdi>."
    ),
    'Changed your mind? <a href="/subscribe">Subscribe again</a>.': (
        'Vous avez changé d’avis ? <a href="/subscribe">Abonnez-vous à nouveau</a>.'
    ),
    "Write-up: %(name)s": "Rapport : %(name)s",
    "Write-up: <bdi>%(name)s</bdi>": "Rapport : <bdi>%(name)s</bdi>",
    "Published %(when)s": "Publié le %(when)s",
    "Back to the incident": "Retour à l’incident",
    "Incident history (RSS)": "Historique des incidents (RSS)",
    "Incident history (Atom)": "Historique des incidents (Atom)",
    "Times are shown in %(zone)s.": "Heures indiquées dans le fuseau %(zone)s.",
    "Calendar": "Calendrier",
    "Operational": "Opérationnel",
    "Under maintenance": "En maintenance",
    "Degraded performance": "Performances dégradées",
    "Partial outage": "Panne partielle",
    "Major outage": "Panne majeure",
    "Investigating": "Analyse en cours",
    "Identified": "Cause identifiée",
    "Monitoring": "Sous surveillance",
    "Resolved": "Résolu",
    "Postmortem": "Analyse post-incident",
    "Scheduled": "Planifiée",
    "In progress": "En cours",
    "Verifying": "Vérification",
    "Completed": "Terminée",
    "All Systems Operational": "Tous les systèmes sont opérationnels",
    "Degraded System Service": "Service dégradé",
    "Major System Outage": "Panne majeure des systèmes",
    "Minor Service Outage": "Panne mineure du service",
    "Partial System Outage": "Panne partielle des systèmes",
    "Partially Degraded Service": "Service partiellement dégradé",
    "Service Under Maintenance": "Service en maintenance",
    "%(n)s day earlier": "%(n)s jour plus tôt",
    "%(n)s days earlier": "%(n)s jours plus tôt",
    "%(n)s hour earlier": "%(n)s heure plus tôt",
    "%(n)s hours earlier": "%(n)s heures plus tôt",
    "%(n)s minute earlier": "%(n)s minute plus tôt",
    "%(n)s minutes earlier": "%(n)s minutes plus tôt",
    "%(day)s: No data": "%(day)s : aucune donnée",
    "%(day)s: %(status)s, %(percent)s%%": "%(day)s : %(status)s, %(percent)s %%",
    "No response times in the last %(hours)s hours": (
        "Aucun temps de réponse sur les %(hours)s dernières heures"
    ),
    (
        "Median response time over the last %(hours)s hours: %(low)s–%(high)s ms, latest "
        "%(latest)s ms"
    ): (
        "Temps de réponse médian sur les %(hours)s dernières heures : %(low)s–%(high)s ms, "
        "dernier %(latest)s ms"
    ),
    "Error": "Erreur",
    "Bad Request": "Requête incorrecte",
    "Unauthorized": "Non authentifié",
    "Forbidden": "Accès refusé",
    "Not Found": "Introuvable",
    "Method Not Allowed": "Méthode non autorisée",
    "Conflict": "Conflit",
    "Gone": "N’existe plus",
    "Unprocessable Entity": "Saisie invalide",
    "Too Many Requests": "Trop de requêtes",
    "Internal Server Error": "Erreur interne du serveur",
    "Service Unavailable": "Service indisponible",
    "page not found": "page introuvable",
    "incident not found": "incident introuvable",
    "write-up not found": "rapport introuvable",
    "history page not found": "page d’historique introuvable",
    "theme not found": "thème introuvable",
    "This form has expired. Please submit it again.": (
        "Ce formulaire a expiré. Veuillez le renvoyer."
    ),
    "Enter a valid email address.": "Saisissez une adresse e-mail valide.",
    "Choose components from the list.": "Choisissez des composants dans la liste.",
}

_SPANISH: dict[str, str] = {
    "Scheduled for %(start)s – %(end)s": "Programado: %(start)s – %(end)s",
    "Scheduled for %(start)s": "Programado: %(start)s",
    "Maintenance": "Mantenimiento",
    "%(days)s days ago": "hace %(days)s días",
    "%(percent)s %% uptime": "%(percent)s %% de disponibilidad",
    "No data": "Sin datos",
    "Today": "Hoy",
    "%(hours)s hours ago": "hace %(hours)s horas",
    "%(percent)s %% of checks passed": "%(percent)s %% de comprobaciones superadas",
    "No checks yet": "Aún no hay comprobaciones",
    "Now": "Ahora",
    "Back to the status page": "Volver a la página de estado",
    "Incident history": "Historial de incidentes",
    "No incidents reported.": "No se han registrado incidentes.",
    "Pages": "Páginas",
    "Newer incidents": "Incidentes más recientes",
    "Page %(number)s of %(count)s": "Página %(number)s de %(count)s",
    "Older incidents": "Incidentes más antiguos",
    "<bdi>%(name)s</bdi> status": "Estado de <bdi>%(name)s</bdi>",
    "Subscribe to updates": "Suscribirse a las actualizaciones",
    "Active incidents": "Incidentes activos",
    "Maintenance in progress": "Mantenimiento en curso",
    "Upcoming maintenance": "Mantenimiento programado",
    "Components": "Componentes",
    "Past incidents": "Incidentes pasados",
    "Affected components": "Componentes afectados",
    "Updates": "Actualizaciones",
    "Write-up published": "Informe publicado",
    "Read our write-up at %(link)s": "Lea nuestro informe en %(link)s",
    "Read our write-up": "Lea nuestro informe",
    (
        "Get an email when <bdi>%(name)s</bdi> reports an incident or schedules maintenance, "
        "and when either is resolved."
    ): (
        "Reciba un correo cuando <bdi>%(name)s</bdi> informe de un incidente o programe un "
        "mantenimiento, y cuando se resuelva."
    ),
    "Email address": "Correo electrónico",
    "Leave this field empty": "Deje este campo vacío",
    "Subscribe": "Suscribirse",
    (
        "We will email you a link to confirm. Every email we send has a link to change what "
        "you get or to unsubscribe."
    ): (
        "Le enviaremos un enlace de confirmación por correo. Cada correo que enviamos incluye "
        "un enlace para cambiar lo que recibe o darse de baja."
    ),
    "Too many requests": "Demasiadas solicitudes",
    "There have been too many subscription requests. Please try again later.": (
        "Ha habido demasiadas solicitudes de suscripción. Inténtelo de nuevo más tarde."
    ),
    "Check your email": "Revise su correo",
    (
        "If this address can be subscribed, an email with a confirmation link is on its way. "
        "Open it and confirm to start getting updates about <bdi>%(name)s</bdi>."
    ): (
        "Si esta dirección se puede suscribir, va en camino un correo con un enlace de "
        "confirmación. Ábralo y confirme para empezar a recibir actualizaciones de "
        "<bdi>%(name)s</bdi>."
    ),
    "Nothing arrived after a few minutes? Look in your spam folder, or subscribe again later.": (
        "¿No ha llegado nada tras unos minutos? Revise la carpeta de spam o vuelva a "
        "suscribirse más tarde."
    ),
    "Confirm your subscription": "Confirme su suscripción",
    "Confirm to get email updates about <bdi>%(name)s</bdi>.": (
        "Confirme para recibir por correo las actualizaciones de <bdi>%(name)s</bdi>."
    ),
    "Confirm subscription": "Confirmar suscripción",
    "Subscribed": "Suscrito",
    "You are subscribed": "Está suscrito",
    (
        "You will get an email when <bdi>%(name)s</bdi> reports an incident or schedules "
        "maintenance."
    ): (
        "Recibirá un correo cuando <bdi>%(name)s</bdi> informe de un incidente o programe un "
        "mantenimiento."
    ),
    "Choose components or unsubscribe": "Elegir componentes o darse de baja",
    "Link expired": "Enlace caducado",
    "This confirmation link has expired": "Este enlace de confirmación ha caducado",
    (
        "Confirmation links work for 7 days. To get a new one, subscribe again with the same "
        "address."
    ): (
        "Los enlaces de confirmación son válidos durante 7 días. Para obtener uno nuevo, "
        "vuelva a suscribirse con la misma dirección."
    ),
    "Subscribe again": "Suscribirse de nuevo",
    (
        "Leave every box unticked to hear about everything on this page. A group covers all of "
        "its components."
    ): (
        "Deje todas las casillas sin marcar para recibir todo lo de esta página. Un grupo "
        "abarca todos sus componentes."
    ),
    '<span class="name"><bdi>%(name)s</bdi></span> (all)': (
        '<span class="name"><bdi>%(name)s</bdi></span> (todos)'
    ),
    "Link not valid": "Enlace no válido",
    "Status": "Estado",
    "This link is not valid": "Este enlace no es válido",
    (
        "It may be incomplete, or a newer email may have replaced it. Use the link in the "
        "latest email you received, or subscribe again."
    ): (
        "Puede que esté incompleto o que un correo más reciente lo haya sustituido. Use el "
        "enlace del último correo que recibió o vuelva a suscribirse."
    ),
    "Your subscription": "Su suscripción",
    "Updates about <bdi>%(name)s</bdi> go to <strong><bdi>%(address)s</bdi></strong>.": (
        "Las actualizaciones de <bdi>%(name)s</bdi> se envían a "
        "<strong><bdi>%(address)s</bdi></strong>."
    ),
    "The subscription is not confirmed yet: use the link in the confirmation email.": (
        "La suscripción aún no está confirmada: use el enlace del correo de confirmación."
    ),
    "Your preferences are saved.": "Sus preferencias se han guardado.",
    "You follow one incident, until it is resolved.": "Sigue un incidente hasta que se resuelva.",
    "Save preferences": "Guardar preferencias",
    "You hear about everything on this page.": "Recibe todo lo de esta página.",
    "Unsubscribe": "Darse de baja",
    "Stop getting email updates about <bdi>%(name)s</bdi>?": (
        "¿Dejar de recibir por correo las actualizaciones de <bdi>%(name)s</bdi>?"
    ),
    "Unsubscribed": "Baja confirmada",
    "You are unsubscribed": "Se ha dado de baja",
    "You will get no more updates about <bdi>%(name)s</bdi>.": (
        "No recibirá más actualizaciones de <bdi>%(name)s</bdi>."
    ),
    'Changed your mind? <a href="/subscribe">Subscribe again</a>.': (
        '¿Ha cambiado de opinión? <a href="/subscribe">Vuelva a suscribirse</a>.'
    ),
    "Write-up: %(name)s": "Informe: %(name)s",
    "Write-up: <bdi>%(name)s</bdi>": "Informe: <bdi>%(name)s</bdi>",
    "Published %(when)s": "Publicado el %(when)s",
    "Back to the incident": "Volver al incidente",
    "Incident history (RSS)": "Historial de incidentes (RSS)",
    "Incident history (Atom)": "Historial de incidentes (Atom)",
    "Times are shown in %(zone)s.": "Las horas se muestran en %(zone)s.",
    "Calendar": "Calendario",
    "Operational": "Operativo",
    "Under maintenance": "En mantenimiento",
    "Degraded performance": "Rendimiento degradado",
    "Partial outage": "Interrupción parcial",
    "Major outage": "Interrupción grave",
    "Investigating": "Investigando",
    "Identified": "Causa identificada",
    "Monitoring": "En observación",
    "Resolved": "Resuelto",
    "Postmortem": "Análisis posterior",
    "Scheduled": "Programado",
    "In progress": "En curso",
    "Verifying": "Verificando",
    "Completed": "Completado",
    "All Systems Operational": "Todos los sistemas operativos",
    "Degraded System Service": "Servicio degradado",
    "Major System Outage": "Interrupción grave del sistema",
    "Minor Service Outage": "Interrupción menor del servicio",
    "Partial System Outage": "Interrupción parcial del sistema",
    "Partially Degraded Service": "Servicio parcialmente degradado",
    "Service Under Maintenance": "Servicio en mantenimiento",
    "%(n)s day earlier": "%(n)s día antes",
    "%(n)s days earlier": "%(n)s días antes",
    "%(n)s hour earlier": "%(n)s hora antes",
    "%(n)s hours earlier": "%(n)s horas antes",
    "%(n)s minute earlier": "%(n)s minuto antes",
    "%(n)s minutes earlier": "%(n)s minutos antes",
    "%(day)s: No data": "%(day)s: sin datos",
    "%(day)s: %(status)s, %(percent)s%%": "%(day)s: %(status)s, %(percent)s %%",
    "No response times in the last %(hours)s hours": (
        "Sin tiempos de respuesta en las últimas %(hours)s horas"
    ),
    (
        "Median response time over the last %(hours)s hours: %(low)s–%(high)s ms, latest "
        "%(latest)s ms"
    ): (
        "Mediana del tiempo de respuesta en las últimas %(hours)s horas: %(low)s–%(high)s ms, "
        "última %(latest)s ms"
    ),
    "Error": "Error",
    "Bad Request": "Solicitud incorrecta",
    "Unauthorized": "No autenticado",
    "Forbidden": "Acceso denegado",
    "Not Found": "No encontrado",
    "Method Not Allowed": "Método no permitido",
    "Conflict": "Conflicto",
    "Gone": "Ya no existe",
    "Unprocessable Entity": "Datos no válidos",
    "Too Many Requests": "Demasiadas solicitudes",
    "Internal Server Error": "Error interno del servidor",
    "Service Unavailable": "Servicio no disponible",
    "page not found": "página no encontrada",
    "incident not found": "incidente no encontrado",
    "write-up not found": "informe no encontrado",
    "history page not found": "página del historial no encontrada",
    "theme not found": "tema no encontrado",
    "This form has expired. Please submit it again.": (
        "Este formulario ha caducado. Envíelo de nuevo."
    ),
    "Enter a valid email address.": "Introduzca una dirección de correo válida.",
    "Choose components from the list.": "Elija componentes de la lista.",
}

_DUTCH: dict[str, str] = {
    "Scheduled for %(start)s – %(end)s": "Gepland: %(start)s – %(end)s",
    "Scheduled for %(start)s": "Gepland: %(start)s",
    "Maintenance": "Onderhoud",
    "%(days)s days ago": "%(days)s dagen geleden",
    "%(percent)s %% uptime": "%(percent)s %% beschikbaarheid",
    "No data": "Geen gegevens",
    "Today": "Vandaag",
    "%(hours)s hours ago": "%(hours)s uur geleden",
    "%(percent)s %% of checks passed": "%(percent)s %% van de controles geslaagd",
    "No checks yet": "Nog geen controles",
    "Now": "Nu",
    "Back to the status page": "Terug naar de statuspagina",
    "Incident history": "Incidentgeschiedenis",
    "No incidents reported.": "Geen incidenten gemeld.",
    "Pages": "Pagina’s",
    "Newer incidents": "Nieuwere incidenten",
    "Page %(number)s of %(count)s": "Pagina %(number)s van %(count)s",
    "Older incidents": "Oudere incidenten",
    "<bdi>%(name)s</bdi> status": "Status van <bdi>%(name)s</bdi>",
    "Subscribe to updates": "Abonneren op updates",
    "Active incidents": "Actieve incidenten",
    "Maintenance in progress": "Onderhoud bezig",
    "Upcoming maintenance": "Gepland onderhoud",
    "Components": "Componenten",
    "Past incidents": "Eerdere incidenten",
    "Affected components": "Getroffen componenten",
    "Updates": "Updates",
    "Write-up published": "Verslag gepubliceerd",
    "Read our write-up at %(link)s": "Lees ons verslag op %(link)s",
    "Read our write-up": "Lees ons verslag",
    (
        "Get an email when <bdi>%(name)s</bdi> reports an incident or schedules maintenance, "
        "and when either is resolved."
    ): (
        "Ontvang een e-mail wanneer <bdi>%(name)s</bdi> een incident meldt of onderhoud plant, "
        "en wanneer dat is afgerond."
    ),
    "Email address": "E-mailadres",
    "Leave this field empty": "Laat dit veld leeg",
    "Subscribe": "Abonneren",
    (
        "We will email you a link to confirm. Every email we send has a link to change what "
        "you get or to unsubscribe."
    ): (
        "We sturen je een bevestigingslink per e-mail. Elke e-mail van ons bevat een link om "
        "te wijzigen wat je ontvangt of om je af te melden."
    ),
    "Too many requests": "Te veel verzoeken",
    "There have been too many subscription requests. Please try again later.": (
        "Er zijn te veel abonnementsverzoeken geweest. Probeer het later opnieuw."
    ),
    "Check your email": "Controleer je e-mail",
    (
        "If this address can be subscribed, an email with a confirmation link is on its way. "
        "Open it and confirm to start getting updates about <bdi>%(name)s</bdi>."
    ): (
        "Als dit adres kan worden aangemeld, is er een e-mail met een bevestigingslink "
        "onderweg. Open die en bevestig om updates over <bdi>%(name)s</bdi> te ontvangen."
    ),
    "Nothing arrived after a few minutes? Look in your spam folder, or subscribe again later.": (
        "Na een paar minuten nog niets ontvangen? Kijk in je spammap of abonneer je later opnieuw."
    ),
    "Confirm your subscription": "Bevestig je abonnement",
    "Confirm to get email updates about <bdi>%(name)s</bdi>.": (
        "Bevestig om e-mailupdates over <bdi>%(name)s</bdi> te ontvangen."
    ),
    "Confirm subscription": "Abonnement bevestigen",
    "Subscribed": "Geabonneerd",
    "You are subscribed": "Je bent geabonneerd",
    (
        "You will get an email when <bdi>%(name)s</bdi> reports an incident or schedules "
        "maintenance."
    ): (
        "Je ontvangt een e-mail wanneer <bdi>%(name)s</bdi> een incident meldt of onderhoud plant."
    ),
    "Choose components or unsubscribe": "Kies componenten of meld je af",
    "Link expired": "Link verlopen",
    "This confirmation link has expired": "Deze bevestigingslink is verlopen",
    (
        "Confirmation links work for 7 days. To get a new one, subscribe again with the same "
        "address."
    ): (
        "Bevestigingslinks zijn 7 dagen geldig. Abonneer je opnieuw met hetzelfde adres voor "
        "een nieuwe link."
    ),
    "Subscribe again": "Opnieuw abonneren",
    (
        "Leave every box unticked to hear about everything on this page. A group covers all of "
        "its components."
    ): (
        "Vink niets aan om over alles op deze pagina te horen. Een groep omvat al haar componenten."
    ),
    '<span class="name"><bdi>%(name)s</bdi></span> (all)': (
        '<span class="name"><bdi>%(name)s</bdi></span> (alle)'
    ),
    "Link not valid": "Link ongeldig",
    "Status": "Status",
    "This link is not valid": "Deze link is ongeldig",
    (
        "It may be incomplete, or a newer email may have replaced it. Use the link in the "
        "latest email you received, or subscribe again."
    ): (
        "Misschien is hij onvolledig, of heeft een nieuwere e-mail hem vervangen. Gebruik de "
        "link in de laatste e-mail die je kreeg, of abonneer je opnieuw."
    ),
    "Your subscription": "Je abonnement",
    "Updates about <bdi>%(name)s</bdi> go to <strong><bdi>%(address)s</bdi></strong>.": (
        "Updates over <bdi>%(name)s</bdi> gaan naar <strong><bdi>%(address)s</bdi></strong>."
    ),
    "The subscription is not confirmed yet: use the link in the confirmation email.": (
        "Het abonnement is nog niet bevestigd: gebruik de link in de bevestigingsmail."
    ),
    "Your preferences are saved.": "Je voorkeuren zijn opgeslagen.",
    "You follow one incident, until it is resolved.": "Je volgt één incident, tot het is opgelost.",
    "Save preferences": "Voorkeuren opslaan",
    "You hear about everything on this page.": "Je hoort over alles op deze pagina.",
    "Unsubscribe": "Afmelden",
    "Stop getting email updates about <bdi>%(name)s</bdi>?": (
        "Geen e-mailupdates over <bdi>%(name)s</bdi> meer ontvangen?"
    ),
    "Unsubscribed": "Afgemeld",
    "You are unsubscribed": "Je bent afgemeld",
    "You will get no more updates about <bdi>%(name)s</bdi>.": (
        "Je ontvangt geen updates meer over <bdi>%(name)s</bdi>."
    ),
    'Changed your mind? <a href="/subscribe">Subscribe again</a>.': (
        'Van gedachten veranderd? <a href="/subscribe">Abonneer je opnieuw</a>.'
    ),
    "Write-up: %(name)s": "Verslag: %(name)s",
    "Write-up: <bdi>%(name)s</bdi>": "Verslag: <bdi>%(name)s</bdi>",
    "Published %(when)s": "Gepubliceerd op %(when)s",
    "Back to the incident": "Terug naar het incident",
    "Incident history (RSS)": "Incidentgeschiedenis (RSS)",
    "Incident history (Atom)": "Incidentgeschiedenis (Atom)",
    "Times are shown in %(zone)s.": "Tijden worden getoond in %(zone)s.",
    "Calendar": "Agenda",
    "Operational": "Operationeel",
    "Under maintenance": "In onderhoud",
    "Degraded performance": "Verminderde prestaties",
    "Partial outage": "Gedeeltelijke storing",
    "Major outage": "Grote storing",
    "Investigating": "Wordt onderzocht",
    "Identified": "Oorzaak gevonden",
    "Monitoring": "Wordt gevolgd",
    "Resolved": "Opgelost",
    "Postmortem": "Nabeschouwing",
    "Scheduled": "Gepland",
    "In progress": "Bezig",
    "Verifying": "Wordt gecontroleerd",
    "Completed": "Voltooid",
    "All Systems Operational": "Alle systemen operationeel",
    "Degraded System Service": "Verminderde dienstverlening",
    "Major System Outage": "Grote systeemstoring",
    "Minor Service Outage": "Kleine dienststoring",
    "Partial System Outage": "Gedeeltelijke systeemstoring",
    "Partially Degraded Service": "Gedeeltelijk verminderde dienstverlening",
    "Service Under Maintenance": "Dienst in onderhoud",
    "%(n)s day earlier": "%(n)s dag eerder",
    "%(n)s days earlier": "%(n)s dagen eerder",
    "%(n)s hour earlier": "%(n)s uur eerder",
    "%(n)s hours earlier": "%(n)s uur eerder",
    "%(n)s minute earlier": "%(n)s minuut eerder",
    "%(n)s minutes earlier": "%(n)s minuten eerder",
    "%(day)s: No data": "%(day)s: geen gegevens",
    "%(day)s: %(status)s, %(percent)s%%": "%(day)s: %(status)s, %(percent)s%%",
    "No response times in the last %(hours)s hours": (
        "Geen responstijden in de afgelopen %(hours)s uur"
    ),
    (
        "Median response time over the last %(hours)s hours: %(low)s–%(high)s ms, latest "
        "%(latest)s ms"
    ): (
        "Mediane responstijd in de afgelopen %(hours)s uur: %(low)s–%(high)s ms, laatste "
        "%(latest)s ms"
    ),
    "Error": "Fout",
    "Bad Request": "Ongeldig verzoek",
    "Unauthorized": "Niet aangemeld",
    "Forbidden": "Geen toegang",
    "Not Found": "Niet gevonden",
    "Method Not Allowed": "Methode niet toegestaan",
    "Conflict": "Conflict",
    "Gone": "Bestaat niet meer",
    "Unprocessable Entity": "Ongeldige invoer",
    "Too Many Requests": "Te veel verzoeken",
    "Internal Server Error": "Interne serverfout",
    "Service Unavailable": "Dienst niet beschikbaar",
    "page not found": "pagina niet gevonden",
    "incident not found": "incident niet gevonden",
    "write-up not found": "verslag niet gevonden",
    "history page not found": "geschiedenispagina niet gevonden",
    "theme not found": "thema niet gevonden",
    "This form has expired. Please submit it again.": (
        "Dit formulier is verlopen. Verstuur het opnieuw."
    ),
    "Enter a valid email address.": "Voer een geldig e-mailadres in.",
    "Choose components from the list.": "Kies componenten uit de lijst.",
}

_PORTUGUESE: dict[str, str] = {
    "Scheduled for %(start)s – %(end)s": "Programada: %(start)s – %(end)s",
    "Scheduled for %(start)s": "Programada: %(start)s",
    "Maintenance": "Manutenção",
    "%(days)s days ago": "há %(days)s dias",
    "%(percent)s %% uptime": "%(percent)s %% de disponibilidade",
    "No data": "Sem dados",
    "Today": "Hoje",
    "%(hours)s hours ago": "há %(hours)s horas",
    "%(percent)s %% of checks passed": "%(percent)s %% das verificações aprovadas",
    "No checks yet": "Nenhuma verificação ainda",
    "Now": "Agora",
    "Back to the status page": "Voltar à página de status",
    "Incident history": "Histórico de incidentes",
    "No incidents reported.": "Nenhum incidente relatado.",
    "Pages": "Páginas",
    "Newer incidents": "Incidentes mais recentes",
    "Page %(number)s of %(count)s": "Página %(number)s de %(count)s",
    "Older incidents": "Incidentes mais antigos",
    "<bdi>%(name)s</bdi> status": "Status de <bdi>%(name)s</bdi>",
    "Subscribe to updates": "Assinar as atualizações",
    "Active incidents": "Incidentes ativos",
    "Maintenance in progress": "Manutenção em andamento",
    "Upcoming maintenance": "Manutenção programada",
    "Components": "Componentes",
    "Past incidents": "Incidentes anteriores",
    "Affected components": "Componentes afetados",
    "Updates": "Atualizações",
    "Write-up published": "Relatório publicado",
    "Read our write-up at %(link)s": "Leia nosso relatório em %(link)s",
    "Read our write-up": "Leia nosso relatório",
    (
        "Get an email when <bdi>%(name)s</bdi> reports an incident or schedules maintenance, "
        "and when either is resolved."
    ): (
        "Receba um e-mail quando <bdi>%(name)s</bdi> relatar um incidente ou programar uma "
        "manutenção, e quando ele for resolvido."
    ),
    "Email address": "Endereço de e-mail",
    "Leave this field empty": "Deixe este campo vazio",
    "Subscribe": "Assinar",
    (
        "We will email you a link to confirm. Every email we send has a link to change what "
        "you get or to unsubscribe."
    ): (
        "Enviaremos um link de confirmação por e-mail. Todo e-mail que enviamos tem um link "
        "para mudar o que você recebe ou cancelar a assinatura."
    ),
    "Too many requests": "Solicitações em excesso",
    "There have been too many subscription requests. Please try again later.": (
        "Houve solicitações de assinatura em excesso. Tente novamente mais tarde."
    ),
    "Check your email": "Verifique seu e-mail",
    (
        "If this address can be subscribed, an email with a confirmation link is on its way. "
        "Open it and confirm to start getting updates about <bdi>%(name)s</bdi>."
    ): (
        "Se este endereço puder ser inscrito, um e-mail com um link de confirmação está a "
        "caminho. Abra-o e confirme para começar a receber atualizações de "
        "<bdi>%(name)s</bdi>."
    ),
    "Nothing arrived after a few minutes? Look in your spam folder, or subscribe again later.": (
        "Nada chegou depois de alguns minutos? Verifique a pasta de spam ou assine novamente "
        "mais tarde."
    ),
    "Confirm your subscription": "Confirme sua assinatura",
    "Confirm to get email updates about <bdi>%(name)s</bdi>.": (
        "Confirme para receber por e-mail as atualizações de <bdi>%(name)s</bdi>."
    ),
    "Confirm subscription": "Confirmar assinatura",
    "Subscribed": "Assinatura ativa",
    "You are subscribed": "Sua assinatura está ativa",
    (
        "You will get an email when <bdi>%(name)s</bdi> reports an incident or schedules "
        "maintenance."
    ): (
        "Você receberá um e-mail quando <bdi>%(name)s</bdi> relatar um incidente ou programar "
        "uma manutenção."
    ),
    "Choose components or unsubscribe": "Escolher componentes ou cancelar a assinatura",
    "Link expired": "Link expirado",
    "This confirmation link has expired": "Este link de confirmação expirou",
    (
        "Confirmation links work for 7 days. To get a new one, subscribe again with the same "
        "address."
    ): (
        "Os links de confirmação valem por 7 dias. Para receber um novo, assine novamente com "
        "o mesmo endereço."
    ),
    "Subscribe again": "Assinar novamente",
    (
        "Leave every box unticked to hear about everything on this page. A group covers all of "
        "its components."
    ): (
        "Deixe todas as caixas desmarcadas para receber tudo desta página. Um grupo abrange "
        "todos os seus componentes."
    ),
    '<span class="name"><bdi>%(name)s</bdi></span> (all)': (
        '<span class="name"><bdi>%(name)s</bdi></span> (todos)'
    ),
    "Link not valid": "Link inválido",
    "Status": "Status",
    "This link is not valid": "Este link não é válido",
    (
        "It may be incomplete, or a newer email may have replaced it. Use the link in the "
        "latest email you received, or subscribe again."
    ): (
        "Ele pode estar incompleto, ou um e-mail mais recente pode tê-lo substituído. Use o "
        "link do último e-mail que você recebeu, ou assine novamente."
    ),
    "Your subscription": "Sua assinatura",
    "Updates about <bdi>%(name)s</bdi> go to <strong><bdi>%(address)s</bdi></strong>.": (
        "As atualizações de <bdi>%(name)s</bdi> vão para <strong><bdi>%(address)s</bdi></strong>."
    ),
    "The subscription is not confirmed yet: use the link in the confirmation email.": (
        "A assinatura ainda não foi confirmada: use o link do e-mail de confirmação."
    ),
    "Your preferences are saved.": "Suas preferências foram salvas.",
    "You follow one incident, until it is resolved.": (
        "Você acompanha um incidente, até que ele seja resolvido."
    ),
    "Save preferences": "Salvar preferências",
    "You hear about everything on this page.": "Você recebe tudo desta página.",
    "Unsubscribe": "Cancelar assinatura",
    "Stop getting email updates about <bdi>%(name)s</bdi>?": (
        "Parar de receber por e-mail as atualizações de <bdi>%(name)s</bdi>?"
    ),
    "Unsubscribed": "Assinatura cancelada",
    "You are unsubscribed": "Sua assinatura foi cancelada",
    "You will get no more updates about <bdi>%(name)s</bdi>.": (
        "Você não receberá mais atualizações de <bdi>%(name)s</bdi>."
    ),
    'Changed your mind? <a href="/subscribe">Subscribe again</a>.': (
        'Mudou de ideia? <a href="/subscribe">Assine novamente</a>.'
    ),
    "Write-up: %(name)s": "Relatório: %(name)s",
    "Write-up: <bdi>%(name)s</bdi>": "Relatório: <bdi>%(name)s</bdi>",
    "Published %(when)s": "Publicado em %(when)s",
    "Back to the incident": "Voltar ao incidente",
    "Incident history (RSS)": "Histórico de incidentes (RSS)",
    "Incident history (Atom)": "Histórico de incidentes (Atom)",
    "Times are shown in %(zone)s.": "Horários exibidos em %(zone)s.",
    "Calendar": "Calendário",
    "Operational": "Operacional",
    "Under maintenance": "Em manutenção",
    "Degraded performance": "Desempenho degradado",
    "Partial outage": "Interrupção parcial",
    "Major outage": "Interrupção grave",
    "Investigating": "Investigando",
    "Identified": "Causa identificada",
    "Monitoring": "Em observação",
    "Resolved": "Resolvido",
    "Postmortem": "Análise pós-incidente",
    "Scheduled": "Programada",
    "In progress": "Em andamento",
    "Verifying": "Verificando",
    "Completed": "Concluída",
    "All Systems Operational": "Todos os sistemas operacionais",
    "Degraded System Service": "Serviço degradado",
    "Major System Outage": "Interrupção grave do sistema",
    "Minor Service Outage": "Interrupção leve do serviço",
    "Partial System Outage": "Interrupção parcial do sistema",
    "Partially Degraded Service": "Serviço parcialmente degradado",
    "Service Under Maintenance": "Serviço em manutenção",
    "%(n)s day earlier": "%(n)s dia antes",
    "%(n)s days earlier": "%(n)s dias antes",
    "%(n)s hour earlier": "%(n)s hora antes",
    "%(n)s hours earlier": "%(n)s horas antes",
    "%(n)s minute earlier": "%(n)s minuto antes",
    "%(n)s minutes earlier": "%(n)s minutos antes",
    "%(day)s: No data": "%(day)s: sem dados",
    "%(day)s: %(status)s, %(percent)s%%": "%(day)s: %(status)s, %(percent)s%%",
    "No response times in the last %(hours)s hours": (
        "Sem tempos de resposta nas últimas %(hours)s horas"
    ),
    (
        "Median response time over the last %(hours)s hours: %(low)s–%(high)s ms, latest "
        "%(latest)s ms"
    ): (
        "Mediana do tempo de resposta nas últimas %(hours)s horas: %(low)s–%(high)s ms, última "
        "%(latest)s ms"
    ),
    "Error": "Erro",
    "Bad Request": "Solicitação inválida",
    "Unauthorized": "Não autenticado",
    "Forbidden": "Acesso negado",
    "Not Found": "Não encontrado",
    "Method Not Allowed": "Método não permitido",
    "Conflict": "Conflito",
    "Gone": "Não existe mais",
    "Unprocessable Entity": "Dados inválidos",
    "Too Many Requests": "Solicitações em excesso",
    "Internal Server Error": "Erro interno do servidor",
    "Service Unavailable": "Serviço indisponível",
    "page not found": "página não encontrada",
    "incident not found": "incidente não encontrado",
    "write-up not found": "relatório não encontrado",
    "history page not found": "página do histórico não encontrada",
    "theme not found": "tema não encontrado",
    "This form has expired. Please submit it again.": "Este formulário expirou. Envie-o novamente.",
    "Enter a valid email address.": "Digite um endereço de e-mail válido.",
    "Choose components from the list.": "Escolha componentes da lista.",
}

LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("en", "English", timefmt.ENGLISH),
        Language(
            "de",
            "Deutsch",
            DateStyle(
                weekdays=("Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa.", "So."),
                months=(
                    "Jan.", "Feb.", "März", "Apr.", "Mai", "Juni",
                    "Juli", "Aug.", "Sept.", "Okt.", "Nov.", "Dez.",
                ),
                month_names=(
                    "Januar", "Februar", "März", "April", "Mai", "Juni",
                    "Juli", "August", "September", "Oktober", "November", "Dezember",
                ),
                date="{day}. {month} {year}",
                timestamp="{weekday}, {date}, {hour:02d}:{minute:02d}",
            ),
            _GERMAN,
            decimal=",",
        ),
        Language(
            "fr",
            "Français",
            DateStyle(
                weekdays=("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."),
                months=(
                    "janv.", "févr.", "mars", "avr.", "mai", "juin",
                    "juil.", "août", "sept.", "oct.", "nov.", "déc.",
                ),
                month_names=(
                    "janvier", "février", "mars", "avril", "mai", "juin",
                    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
                ),
                date="{day} {month} {year}",
                timestamp="{weekday} {date}, {hour:02d}:{minute:02d}",
            ),
            _FRENCH,
            decimal=",",
        ),
        Language(
            "es",
            "Español",
            DateStyle(
                weekdays=("lun", "mar", "mié", "jue", "vie", "sáb", "dom"),
                months=(
                    "ene", "feb", "mar", "abr", "may", "jun",
                    "jul", "ago", "sept", "oct", "nov", "dic",
                ),
                month_names=(
                    "enero", "febrero", "marzo", "abril", "mayo", "junio",
                    "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre",
                ),
                date="{day} {month} {year}",
                month="{month_name} de {year}",
                timestamp="{weekday}, {date}, {hour:02d}:{minute:02d}",
            ),
            _SPANISH,
            decimal=",",
        ),
        Language(
            "nl",
            "Nederlands",
            DateStyle(
                weekdays=("ma", "di", "wo", "do", "vr", "za", "zo"),
                months=(
                    "jan", "feb", "mrt", "apr", "mei", "jun",
                    "jul", "aug", "sep", "okt", "nov", "dec",
                ),
                month_names=(
                    "januari", "februari", "maart", "april", "mei", "juni",
                    "juli", "augustus", "september", "oktober", "november", "december",
                ),
                date="{day} {month} {year}",
                timestamp="{weekday} {date}, {hour:02d}:{minute:02d}",
            ),
            _DUTCH,
            decimal=",",
        ),
        Language(
            "pt-BR",
            "Português (Brasil)",
            DateStyle(
                weekdays=("seg.", "ter.", "qua.", "qui.", "sex.", "sáb.", "dom."),
                months=(
                    "jan.", "fev.", "mar.", "abr.", "mai.", "jun.",
                    "jul.", "ago.", "set.", "out.", "nov.", "dez.",
                ),
                month_names=(
                    "janeiro", "fevereiro", "março", "abril", "maio", "junho",
                    "julho", "agosto", "setembro", "outubro", "novembro", "dezembro",
                ),
                date="{day} de {month} de {year}",
                month="{month_name} de {year}",
                timestamp="{weekday}, {date}, {hour:02d}:{minute:02d}",
            ),
            _PORTUGUESE,
            decimal=",",
        ),
    )
}  # fmt: skip

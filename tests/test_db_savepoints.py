from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tocsin.pages.models import Page


def _pages(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(Page)) or 0


def test_work_inside_a_released_savepoint_rolls_back_with_its_transaction(
    factory: sessionmaker[Session],
) -> None:
    # A form handler tries a change in a savepoint, which succeeds; a later step fails
    # and the request rolls back: nothing of it may stay (SQLite used to commit here).
    with factory() as session:
        session.scalar(select(func.count()).select_from(Page))
        with session.begin_nested():
            session.add(Page(name="Tried"))
        session.rollback()

    assert _pages(factory) == 0


def test_a_failed_savepoint_undoes_only_its_own_work(factory: sessionmaker[Session]) -> None:
    with factory() as session:
        session.add(Page(name="Kept"))
        session.flush()
        try:
            with session.begin_nested():
                session.add(Page(name="Refused"))
                session.flush()
                raise ValueError("refused")
        except ValueError:
            pass
        session.commit()

    with factory() as session:
        assert list(session.scalars(select(Page.name))) == ["Kept"]

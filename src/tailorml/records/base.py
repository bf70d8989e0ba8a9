"""What every saved record shares: a format version, typed fields that refuse
unknown keys, atomic writing, and reading that migrates older versions and
names the file and field when one does not fit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from tailorml.errors import DataError
from tailorml.io import JSONObject, atomic_write_json, read_json

Migration = Callable[[JSONObject], JSONObject]


class Part(BaseModel):
    """A typed piece of a record: unknown keys are refused, so a writer's typo
    fails where it is made instead of leaving a reader blank."""

    model_config = ConfigDict(extra="forbid")
    # what dump() leaves out: fields never set (the writer had no such figure), None fields
    OMIT_UNSET: ClassVar[bool] = False
    OMIT_NONE: ClassVar[bool] = False

    def dump(self) -> JSONObject:
        """The JSON value written to disk."""
        return self.model_dump(
            mode="json", exclude_unset=self.OMIT_UNSET, exclude_none=self.OMIT_NONE
        )

    def __getitem__(self, name: str) -> Any:
        """A field by the name the JSON file gives it, so code written against the
        plain-JSON files (``run.metrics["test"]["accuracy"]``) keeps working.

        Raises:
            KeyError: the record has no such field, or leaves it out.
        """
        extra = self.__pydantic_extra__ or {}
        if name in extra:
            return extra[name]
        fields = type(self).model_fields.items()
        field = next((f for f, info in fields if name in (f, info.serialization_alias)), None)
        if field is None or getattr(self, field) is None:
            raise KeyError(name)
        return getattr(self, field)


class Record(Part):
    """A file one stage writes and later ones read (metrics.json, match.json…).

    ``FORMAT`` is the version written now and, for every older version ``v``,
    ``MIGRATIONS[v]`` turns a version-``v`` dict into a version-``v + 1`` one.
    Files written before records were versioned carry no ``format_version`` and
    read as version 0, which holds the same fields as version 1.
    """

    FORMAT: ClassVar[int] = 1
    MIGRATIONS: ClassVar[dict[int, Migration]] = {0: lambda data: data}

    format_version: int = 0

    def model_post_init(self, context: Any, /) -> None:
        self.format_version = self.FORMAT

    @classmethod
    def migrate(cls, data: JSONObject) -> JSONObject:
        """Bring a dict of any older version up to ``FORMAT``."""
        raw = data.pop("format_version", 0)
        if not isinstance(raw, int | float | str):
            raise ValueError(f"format_version {raw!r} is not a version number")
        version = int(raw)
        if version > cls.FORMAT:
            raise ValueError(
                f"format_version {version} is newer than this tailorml reads "
                f"({cls.FORMAT}); upgrade tailorml"
            )
        for step in range(version, cls.FORMAT):
            data = cls.MIGRATIONS[step](data)
        return data

    @classmethod
    def parse(cls, data: Any, where: str = "<record>") -> Self:
        """Validate a JSON value (migrating it first).

        Raises:
            DataError: naming ``where`` and the first field that does not fit.
        """
        if not isinstance(data, dict):
            raise DataError(f"{where} is not a JSON object, so not a {cls.__name__} record.")
        try:
            return cls.model_validate(cls.migrate(dict(data)))
        except ValidationError as err:
            first = err.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "(top level)"
            raise DataError(
                f"{where} does not hold a valid {cls.__name__} record: at {field}, "
                f"{first['msg']} ({err.error_count()} problem(s) in all)."
            ) from None
        except (ValueError, KeyError) as err:
            raise DataError(f"{where}: {err}.") from None

    @classmethod
    def read(cls, path: Path) -> Self:
        """Read and validate a record file.

        Raises:
            DataError: the file is missing, is not JSON, or does not fit.
        """
        try:
            data = read_json(path)
        except FileNotFoundError:
            raise DataError(f"{path} does not exist.") from None
        except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
            raise DataError(f"{path} is not valid JSON ({err}).") from None
        return cls.parse(data, str(path))

    def write(self, path: Path) -> None:
        """Write the record atomically (an interrupted write leaves no half file)."""
        atomic_write_json(path, self.dump())

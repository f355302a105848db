"""The caller's record, as the CRM would give it: looked up by the calling number.

The bundled directory is demo data (``turngate/data/customers.yaml``); a
deployment plugs in its CRM behind the same two methods. Field values are
classified by the policy's memory section before anything is sent anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from ..data import bundled_text


@dataclass(frozen=True, slots=True)
class Customer:
    phone: str
    segment: str = "standard"
    pin: str = ""  # zero-retention: compared, never logged or sent
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CustomerDirectory:
    by_phone: dict[str, Customer]

    def lookup(self, phone: str) -> Customer | None:
        return self.by_phone.get(phone)

    @classmethod
    def bundled(cls) -> "CustomerDirectory":
        return cls._parse(bundled_text("customers.yaml") or "")

    @classmethod
    def _parse(cls, text: str) -> "CustomerDirectory":
        raw = yaml.safe_load(text) or {}
        out = {}
        for phone, rec in (raw.get("customers") or {}).items():
            rec = dict(rec or {})
            out[str(phone)] = Customer(phone=str(phone), segment=str(rec.pop("segment", "standard")),
                                       pin=str(rec.pop("pin", "")), fields={k: str(v) for k, v in rec.items()})
        return cls(out)

"""PFIF documents of each version and hostile XML, written for these tests (no third-party samples)."""

from __future__ import annotations

PFIF_11 = b"""<?xml version="1.0" encoding="UTF-8"?>
<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.1">
  <pfif:person>
    <pfif:person_record_id>haiti.example.org/person.11</pfif:person_record_id>
    <pfif:entry_date>2010-01-16T17:32:05Z</pfif:entry_date>
    <pfif:author_name>Marie Joseph</pfif:author_name>
    <pfif:source_date>2010-01-16T17:32:05Z</pfif:source_date>
    <pfif:first_name>Jean</pfif:first_name>
    <pfif:last_name>Baptiste</pfif:last_name>
    <pfif:home_zip>HT6110</pfif:home_zip>
    <pfif:other>Last seen near the market</pfif:other>
    <pfif:note>
      <pfif:note_record_id>haiti.example.org/note.11</pfif:note_record_id>
      <pfif:entry_date>2010-01-17T08:00:00Z</pfif:entry_date>
      <pfif:author_name>Clinic Saint-Michel</pfif:author_name>
      <pfif:source_date>2010-01-17T08:00:00Z</pfif:source_date>
      <pfif:found>true</pfif:found>
      <pfif:last_known_location>Clinic Saint-Michel, ward 3</pfif:last_known_location>
      <pfif:text>Treated for a broken arm.</pfif:text>
    </pfif:note>
  </pfif:person>
</pfif:pfif>
"""

# 1.2: sex, date of birth, age, notes at the top level with their person's id, statuses.
PFIF_12 = b"""<?xml version="1.0" encoding="UTF-8"?>
<pfif xmlns="http://zesty.ca/pfif/1.2">
  <person>
    <person_record_id>quake.example.org/p-12</person_record_id>
    <author_name>Rosa Lima</author_name>
    <author_email>rosa@example.org</author_email>
    <first_name>Ana</first_name>
    <last_name>Lima</last_name>
    <sex>female</sex>
    <date_of_birth>1984-05</date_of_birth>
    <age>25-30</age>
  </person>
  <note>
    <note_record_id>quake.example.org/n-12a</note_record_id>
    <person_record_id>quake.example.org/p-12</person_record_id>
    <source_date>2010-02-27T10:00:00Z</source_date>
    <author_name>Rosa Lima</author_name>
    <found>false</found>
    <status>information_sought</status>
    <last_known_location>Concepcion bus station</last_known_location>
  </note>
</pfif>
"""

# 1.3: full_name, and ``author_made_contact`` instead of ``found``; a believed_dead note.
PFIF_13 = b"""<?xml version="1.0" encoding="UTF-8"?>
<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.3">
  <pfif:person>
    <pfif:person_record_id>flood.example.org/13</pfif:person_record_id>
    <pfif:source_date>2011-03-12T09:00:00Z</pfif:source_date>
    <pfif:full_name>Kenji Sato</pfif:full_name>
    <pfif:first_name>Kenji</pfif:first_name>
    <pfif:last_name>Sato</pfif:last_name>
    <pfif:sex>male</pfif:sex>
    <pfif:age>61</pfif:age>
    <pfif:note>
      <pfif:note_record_id>flood.example.org/n13</pfif:note_record_id>
      <pfif:source_date>2011-03-14T09:00:00Z</pfif:source_date>
      <pfif:author_name>Town office</pfif:author_name>
      <pfif:author_made_contact>false</pfif:author_made_contact>
      <pfif:status>believed_dead</pfif:status>
    </pfif:note>
  </pfif:person>
</pfif:pfif>
"""

# 1.4: given_name/family_name, alternate_names one per line, description; believed_missing; and a
# person whose latest note says they were found alive after being sought.
PFIF_14 = """<?xml version="1.0" encoding="UTF-8"?>
<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4">
  <pfif:person>
    <pfif:person_record_id>registry.example.org/person.1401</pfif:person_record_id>
    <pfif:author_name>Hiwet Tesfay</pfif:author_name>
    <pfif:given_name>Tesfaye</pfif:given_name>
    <pfif:family_name>Gebremedhin</pfif:family_name>
    <pfif:alternate_names>Tesfay Gebremedhin
ተስፋይ ገብረመድህን</pfif:alternate_names>
    <pfif:description>Left Khartoum in 2022</pfif:description>
    <pfif:sex>male</pfif:sex>
    <pfif:date_of_birth>1996</pfif:date_of_birth>
    <pfif:note>
      <pfif:note_record_id>registry.example.org/note.1401</pfif:note_record_id>
      <pfif:author_name>Hiwet Tesfay</pfif:author_name>
      <pfif:source_date>2023-04-01T12:00:00Z</pfif:source_date>
      <pfif:status>believed_missing</pfif:status>
    </pfif:note>
  </pfif:person>
  <pfif:person>
    <pfif:person_record_id>registry.example.org/person.1402</pfif:person_record_id>
    <pfif:given_name>Amal</pfif:given_name>
    <pfif:family_name>Haddad</pfif:family_name>
    <pfif:sex>other</pfif:sex>
    <pfif:note>
      <pfif:note_record_id>registry.example.org/note.1402a</pfif:note_record_id>
      <pfif:author_name>Sami Haddad</pfif:author_name>
      <pfif:source_date>2023-05-01T12:00:00Z</pfif:source_date>
      <pfif:status>information_sought</pfif:status>
    </pfif:note>
    <pfif:note>
      <pfif:note_record_id>registry.example.org/note.1402b</pfif:note_record_id>
      <pfif:author_name>Reception centre</pfif:author_name>
      <pfif:source_date>2023-06-02T12:00:00Z</pfif:source_date>
      <pfif:author_made_contact>true</pfif:author_made_contact>
      <pfif:status>believed_alive</pfif:status>
      <pfif:phone_of_found_person>+30 210 555 0100</pfif:phone_of_found_person>
    </pfif:note>
  </pfif:person>
</pfif:pfif>
""".encode()

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<pfif xmlns="http://zesty.ca/pfif/1.4"><person>
<person_record_id>x.example.org/1</person_record_id><full_name>&lol9;</full_name>
</person></pfif>
"""


def external_entity(path: str) -> bytes:
    return f"""<?xml version="1.0"?>
<!DOCTYPE pfif [<!ENTITY secret SYSTEM "file://{path}">]>
<pfif xmlns="http://zesty.ca/pfif/1.4"><person>
<person_record_id>x.example.org/1</person_record_id><full_name>&secret;</full_name>
<note><note_record_id>x.example.org/n1</note_record_id><status>believed_alive</status></note>
</person></pfif>
""".encode()


# A DTD without any entity: refused all the same (nothing in a PFIF file needs one).
WITH_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE pfif SYSTEM "http://attacker.example/pfif.dtd">
<pfif xmlns="http://zesty.ca/pfif/1.4"><person>
<person_record_id>x.example.org/1</person_record_id><full_name>Someone</full_name>
<note><note_record_id>x.example.org/n1</note_record_id><status>believed_alive</status></note>
</person></pfif>
"""

MALFORMED = b"""<?xml version="1.0"?>
<pfif xmlns="http://zesty.ca/pfif/1.4"><person>
<person_record_id>x.example.org/1</person_record_id><full_name>Someone</fullname>
</person></pfif>
"""

WRONG_NAMESPACE = b"""<?xml version="1.0"?>
<pfif xmlns="http://example.org/not-pfif"><person>
<person_record_id>x.example.org/1</person_record_id><full_name>Someone</full_name>
<note><note_record_id>x.example.org/n1</note_record_id><status>believed_alive</status></note>
</person></pfif>
"""

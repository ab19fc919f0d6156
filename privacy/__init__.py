"""privacy: the pure privacy engine of rfl (no Flask, no ORM, no rfl imports).

Recipes the application calls; internals live in the submodules.

* Field encryption: :class:`FieldVault` (``encrypt``/``decrypt`` one field, ``encrypt_fields``/
  ``decrypt_fields`` one row) over a :class:`KeyProvider` (the local :func:`create_key_file` /
  :func:`load_key_file`) and a :class:`KeyStore` the application implements on its database
  (:class:`privacy.testing.InMemoryKeyStore` is the reference, and
  :func:`privacy.testing.check_key_store_contract` checks a database implementation against it).
  Every decryption failure raises :class:`DecryptionError`.
* Key lifecycle: :func:`rewrap_deks` (or batch by batch, :func:`rewrap_batch`, until
  :func:`deks_under_older_keks` finds none) after ``provider.rotate_kek``, then :func:`retire_kek`;
  :func:`shred_subject` (or ``FieldVault.shred``) for erasure.
* Blind indexes: :class:`BlindIndexer`, :class:`BlindIndexSpec`, :func:`plan_index_bits`,
  :func:`year_band`.
* Tamper-evident log: :func:`canonical_entry`, :func:`leaf_hash`, :func:`tree_root`,
  :func:`inclusion_proof`, :func:`consistency_proof` (``*_from`` variants take a node-root function,
  e.g. :class:`NodeRoots`, instead of every leaf), :class:`CompactRange`, :func:`verify_inclusion`,
  :func:`verify_consistency`; checkpoints with :func:`sign_checkpoint` / :func:`verify_checkpoint`,
  other signed notes with :func:`sign_note` / :func:`open_note`.
* Consent: :func:`decide_disclosure` over :class:`DisclosureFacts`; :func:`could_be_minor`.
* Keyed hashes of values recognised but never stored: :func:`keyed_hash`.
* Published statistics: :func:`protect_table` suppresses small counts of a table with margins, and
  the cells they could be recomputed from (:class:`ProtectedTable`, :class:`Published`).
* Row seals (a keyed MAC over a row's plaintext control columns, e.g. protection restrictions or a
  consent's terms): :class:`RowSealer`.
"""

from privacy.blind_index import (
    BlindIndexer,
    BlindIndexSpec,
    BlindIndexValue,
    IndexPlan,
    plan_index_bits,
    year_band,
)
from privacy.cache import KeyCache
from privacy.checkpoint import (
    Checkpoint,
    CheckpointSigner,
    CheckpointVerifier,
    create_signing_key_file,
    load_signing_key_file,
    open_note,
    sign_checkpoint,
    sign_note,
    verify_checkpoint,
)
from privacy.consent import (
    AgeEstimate,
    Category,
    ConsentMethod,
    ConsentRecord,
    ConsentStatus,
    Decision,
    DisclosureFacts,
    MatchFacts,
    MatchStatus,
    PartialDate,
    Reason,
    SubjectFacts,
    could_be_minor,
    decide_disclosure,
)
from privacy.disclosure_control import ProtectedTable, Published, protect_table
from privacy.errors import (
    BlindIndexError,
    CanonicalEncodingError,
    CheckpointError,
    DecryptionError,
    IndexPlanningError,
    KekInUseError,
    KeyConfigurationError,
    PrivacyError,
    ProofError,
    SubjectErasedError,
)
from privacy.fields import FieldValue, needs_reencryption
from privacy.keyed import keyed_hash
from privacy.keys import (
    KekState,
    KeyProvider,
    KeyStore,
    LocalKeyProvider,
    WrappedDek,
    create_key_file,
    load_key_file,
)
from privacy.merkle import (
    CompactRange,
    JsonValue,
    NodeRoots,
    canonical_entry,
    consistency_proof,
    consistency_proof_from,
    inclusion_proof,
    inclusion_proof_from,
    leaf_hash,
    tree_root,
    verify_consistency,
    verify_inclusion,
)
from privacy.sealing import RowSealer, SealValue
from privacy.vault import (
    FieldVault,
    RewrapPosition,
    RewrapReport,
    ShredReport,
    Subject,
    deks_under_older_keks,
    retire_kek,
    rewrap_batch,
    rewrap_deks,
    shred_subject,
)

__all__ = [
    "AgeEstimate",
    "BlindIndexError",
    "BlindIndexSpec",
    "BlindIndexValue",
    "BlindIndexer",
    "CanonicalEncodingError",
    "Category",
    "Checkpoint",
    "CheckpointError",
    "CheckpointSigner",
    "CheckpointVerifier",
    "CompactRange",
    "ConsentMethod",
    "ConsentRecord",
    "ConsentStatus",
    "Decision",
    "DecryptionError",
    "DisclosureFacts",
    "FieldValue",
    "FieldVault",
    "IndexPlan",
    "IndexPlanningError",
    "JsonValue",
    "KekInUseError",
    "KekState",
    "KeyCache",
    "KeyConfigurationError",
    "KeyProvider",
    "KeyStore",
    "LocalKeyProvider",
    "MatchFacts",
    "MatchStatus",
    "NodeRoots",
    "PartialDate",
    "PrivacyError",
    "ProofError",
    "ProtectedTable",
    "Published",
    "Reason",
    "RewrapPosition",
    "RewrapReport",
    "RowSealer",
    "SealValue",
    "ShredReport",
    "Subject",
    "SubjectErasedError",
    "SubjectFacts",
    "WrappedDek",
    "canonical_entry",
    "consistency_proof",
    "consistency_proof_from",
    "could_be_minor",
    "create_key_file",
    "create_signing_key_file",
    "decide_disclosure",
    "deks_under_older_keks",
    "inclusion_proof",
    "inclusion_proof_from",
    "keyed_hash",
    "leaf_hash",
    "load_key_file",
    "load_signing_key_file",
    "needs_reencryption",
    "open_note",
    "plan_index_bits",
    "protect_table",
    "retire_kek",
    "rewrap_batch",
    "rewrap_deks",
    "shred_subject",
    "sign_checkpoint",
    "sign_note",
    "tree_root",
    "verify_checkpoint",
    "verify_consistency",
    "verify_inclusion",
    "year_band",
]

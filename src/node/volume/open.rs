//! Opening a volume and its journal at start, before any thread runs: the role machine
//! starts from the journal's generations and consistency.

use std::path::Path;

use anyhow::{bail, Context};

use crate::journal::{
    FileStore, Geometry, Journal, JournalError, JournalState, Opened, Store, DEFAULT_EXTENT_REGIONS,
};
use crate::node::config::VolumeSection;

/// A volume and its journal, opened and checked.
pub struct OpenedVolume {
    /// The configuration.
    pub cfg: VolumeSection,
    /// The volume's bytes.
    pub data: FileStore,
    /// Its change journal.
    pub journal: Journal<FileStore>,
    /// How the journal was found (for the start notice and the status).
    pub how: Opened,
    /// The volume file was created now.
    pub created: bool,
}

impl OpenedVolume {
    /// The generations and consistency the role machine starts from.
    pub fn state(&self) -> JournalState {
        self.journal.state()
    }
}

/// Opens (creating when missing) the volume and its journal as `[volume]` says. A journal
/// that cannot be trusted is rebuilt with every region dirty ([`Opened::Rebuilt`]); a
/// journal missing beside an existing volume counts as that too: nothing says which
/// regions changed, so all of them may have.
pub fn open(cfg: &VolumeSection) -> anyhow::Result<OpenedVolume> {
    let created = !cfg.path.exists();
    if created && cfg.size.is_none() {
        bail!(
            "[volume].size: {} does not exist; give its size to create it",
            cfg.path.display()
        );
    }
    let mut data = FileStore::open(&cfg.path, created)
        .with_context(|| format!("opening the volume {}", cfg.path.display()))?;
    let mut len = data
        .len()
        .with_context(|| format!("reading the size of {}", cfg.path.display()))?;
    if created {
        let size = cfg.size.unwrap_or(0);
        data.set_len(size)
            .with_context(|| format!("sizing the new volume {}", cfg.path.display()))?;
        if let Err(e) = data.allocate(size) {
            // The volume is unusable on a disk without room for it: say so at once.
            let _ = std::fs::remove_file(&cfg.path);
            return Err(e).with_context(|| {
                format!(
                    "reserving {size} bytes for the new volume {}",
                    cfg.path.display()
                )
            });
        }
        len = size;
    }
    match cfg.size {
        Some(want) if want != len => bail!(
            "[volume].size: {} is {len} bytes, the configuration says {want}",
            cfg.path.display()
        ),
        _ if len == 0 || !len.is_multiple_of(4096) => bail!(
            "[volume].path: {} is {len} bytes; a volume is a whole, non-zero number of 4 KiB blocks",
            cfg.path.display()
        ),
        _ => {}
    }
    let geometry = Geometry::new(len, cfg.region_size, DEFAULT_EXTENT_REGIONS)
        .map_err(|e| anyhow::anyhow!("[volume]: {e}"))?;
    let journal_existed = exists_nonempty(&cfg.journal);
    let store = FileStore::open(&cfg.journal, true)
        .with_context(|| format!("opening the journal {}", cfg.journal.display()))?;
    let (journal, how) = open_journal(store, geometry, created, journal_existed)
        .with_context(|| format!("reading the journal {}", cfg.journal.display()))?;
    Ok(OpenedVolume {
        cfg: cfg.clone(),
        data,
        journal,
        how,
        created,
    })
}

/// Opens the journal in `store` for a volume of `geometry` (`volume_created`: the volume
/// was made just now; `journal_existed`: the store held bytes before). A new journal beside
/// a new volume is consistent: the volume is all zeros, like any other new one. A new one
/// beside an existing volume (the operator's data) may serve, but marks every region: any
/// of them may differ from the peer's ([`Opened::Rebuilt`]).
pub(crate) fn open_journal<S: Store>(
    store: S,
    geometry: Geometry,
    volume_created: bool,
    journal_existed: bool,
) -> Result<(Journal<S>, Opened), JournalError> {
    let (mut journal, mut how) = Journal::open(store, geometry)?;
    if how == Opened::Created {
        journal.set_state(JournalState {
            consistent: true,
            ..JournalState::default()
        })?;
        if !volume_created {
            journal.mark_all()?;
            how = Opened::Rebuilt(if journal_existed {
                "the journal was empty".into()
            } else {
                "no journal beside an existing volume".into()
            });
        }
    }
    Ok((journal, how))
}

fn exists_nonempty(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.len() > 0)
}

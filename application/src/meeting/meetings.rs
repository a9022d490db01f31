//! Meetings and their ticket grades: an organizer creates a meeting with its first grades, opens
//! and closes its sales, adds and changes grades. Only the meeting's organizer or an admin may
//! change it.

use super::{MeetingService, MeetingServiceError, is_admin};
use crate::command::CommandRunner;
use crate::event_store::EventMetadata;
use chrono::{DateTime, Utc};
use tessera_domain::UserId;
use tessera_domain::identity::Role;
use tessera_domain::meeting::{Meeting, MeetingCommand, MeetingId, NewGrade, TicketGradeId};
use tessera_domain::shared::Money;
use uuid::Uuid;

/// A ticket grade as an organizer defines it (checked by the caller: name 1–100 characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GradeInput {
    /// Name shown to buyers (e.g. 普通票, VIP).
    pub name: String,
    /// Unit price (CNY).
    pub price: Money,
    /// Number of tickets.
    pub stock: u32,
}

/// A meeting as an organizer creates it.
#[derive(Debug, Clone)]
pub struct MeetingInput {
    /// Title (1–200 characters, checked by the caller).
    pub title: String,
    /// Description, may be empty.
    pub description: String,
    /// Where it takes place, may be empty.
    pub location: String,
    /// Start (UTC).
    pub start_time: DateTime<Utc>,
    /// End (UTC); must be after the start.
    pub end_time: DateTime<Utc>,
    /// The first grades, in the order buyers see them.
    pub grades: Vec<GradeInput>,
    /// Open sales right away (otherwise the meeting starts as a draft).
    pub open_sales: bool,
}

/// A change an organizer makes to an existing meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeetingChange {
    /// Start taking orders.
    OpenSales,
    /// Stop taking orders.
    CloseSales,
    /// Add a grade (its id is made here).
    AddGrade(GradeInput),
    /// Change a grade; absent fields stay as they are.
    ChangeGrade {
        /// The grade to change; it must belong to this meeting.
        ticket_grade_id: TicketGradeId,
        /// New name.
        name: Option<String>,
        /// New unit price (CNY); orders placed later must quote it.
        price: Option<Money>,
        /// New total stock; at least what is held and sold.
        stock: Option<u32>,
    },
}

fn new_grade(g: GradeInput) -> NewGrade {
    NewGrade {
        ticket_grade_id: TicketGradeId::from_uuid(Uuid::now_v7()),
        name: g.name,
        price: g.price,
        stock: g.stock,
    }
}

impl MeetingService {
    /// Create a meeting organized by `actor` (the api checks the organizer role). Returns its id
    /// and the append's position.
    ///
    /// Errors: `Meeting(EndBeforeStart | NotCny | DuplicateGrade)`, `Engine`.
    pub async fn create_meeting(
        &self,
        actor: UserId,
        input: MeetingInput,
        meta: &EventMetadata,
    ) -> Result<(MeetingId, Option<u64>), MeetingServiceError> {
        let id = MeetingId::from_uuid(Uuid::now_v7());
        let now = self.now();
        let command = MeetingCommand::CreateMeeting {
            organizer_id: actor,
            title: input.title,
            description: input.description,
            location: input.location,
            start_time: input.start_time,
            end_time: input.end_time,
            grades: input.grades.into_iter().map(new_grade).collect(),
            now,
        };
        let stream = CommandRunner::stream::<Meeting>(id)?;
        let created = self
            .runner
            .run::<Meeting>(&stream, &command, meta)
            .await
            .map_err(|e| e.map_rejected(MeetingServiceError::from))?;
        let mut position = created.position();
        if input.open_sales {
            let opened = self
                .runner
                .run::<Meeting>(&stream, &MeetingCommand::OpenSales { now }, meta)
                .await
                .map_err(|e| e.map_rejected(MeetingServiceError::from))?;
            position = opened.position().or(position);
        }
        Ok((id, position))
    }

    /// Make `change` to a meeting, as `actor` holding `roles`. Returns the meeting after it and
    /// the append's position (`None` when nothing changed).
    ///
    /// Errors: `NotFound(Meeting)`, `Forbidden` for anyone but the organizer or an admin,
    /// `Meeting(UnknownGrade | StockBelowCommitted | NotCny | …)`, `Engine`.
    pub async fn manage(
        &self,
        actor: UserId,
        roles: &[Role],
        meeting_id: MeetingId,
        change: MeetingChange,
        meta: &EventMetadata,
    ) -> Result<(Meeting, Option<u64>), MeetingServiceError> {
        let stream = CommandRunner::stream::<Meeting>(meeting_id)?;
        let (meeting, _) = self.runner.load::<Meeting>(&stream).await?;
        let info = meeting
            .info()
            .ok_or(MeetingServiceError::NotFound(super::Missing::Meeting))?;
        if !is_admin(roles) && info.organizer_id != actor {
            return Err(MeetingServiceError::Forbidden);
        }
        let now = self.now();
        let command = match change {
            MeetingChange::OpenSales => MeetingCommand::OpenSales { now },
            MeetingChange::CloseSales => MeetingCommand::CloseSales { now },
            MeetingChange::AddGrade(g) => MeetingCommand::AddGrade {
                grade: new_grade(g),
                now,
            },
            MeetingChange::ChangeGrade {
                ticket_grade_id,
                name,
                price,
                stock,
            } => MeetingCommand::ChangeGrade {
                ticket_grade_id,
                name,
                price,
                stock,
                now,
            },
        };
        let decided = self
            .runner
            .run::<Meeting>(&stream, &command, meta)
            .await
            .map_err(|e| e.map_rejected(MeetingServiceError::from))?;
        let position = decided.position();
        Ok((decided.state, position))
    }
}

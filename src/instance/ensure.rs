//! Making sure the timeline's database exists, on one admin session that is reused for every
//! step (and later holds the migration lock): resolve the name against the catalog, create the
//! database and its role if missing, record ownership, and check the new database answers.
//! Safe to run twice and safe to race: a racer that loses the create treats it as existing.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio_postgres::Client;
use tokio_postgres::types::Type;

use super::connect::{connect, connect_noting_tls, describe};
use super::conninfo::ConnInfo;
use super::lock::{self, Holder};
use super::ownership::Ownership;
use super::quote::{quote_ident, quote_literal};
use super::role::{self, Isolation, RoleState};
use super::version::Version;
use crate::error::{Error, Kind as ErrorKind, Result};
use crate::secret::Secret;
use crate::timeline::{Kind, Timeline, naming};

#[derive(Debug, Clone, Serialize)]
pub struct Ensured {
    pub database: String,
    pub created: bool,
    /// Set when the database exists but carries no deploydb ownership record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// An open admin session.
pub struct Session {
    pub client: Client,
    admin: ConnInfo,
    timeout: Duration,
    pub(crate) superuser: bool,
    pub(crate) version: Version,
    /// Whether the session is encrypted (see `tls::for_clients`).
    pub(crate) tls: bool,
}

/// The database a timeline maps to, and what the catalog says about it now.
pub struct Resolved {
    pub database: String,
    pub(crate) existing: Option<Existing>,
    /// The whole read (database, role, time) the name was chosen by: `ensure` starts from it
    /// rather than asking again.
    state: State,
}

#[derive(Clone)]
pub(crate) struct Existing {
    pub(crate) comment: Option<String>,
    pub(crate) owner: String,
}

/// What ensure needs besides the name.
pub struct Target<'a> {
    pub app: &'a str,
    pub timeline: &'a Timeline,
    pub isolation: Isolation,
    /// The credentials the app will use (the role's under role isolation).
    pub credentials: &'a ConnInfo,
    /// The id of the key the role's password comes from (role isolation).
    pub role_key_id: Option<&'a str>,
    /// Start a new database as a copy of this template (`branch_from = "template"`).
    pub template: Option<&'a str>,
}

impl Resolved {
    fn new(database: String, state: State) -> Resolved {
        Resolved {
            database,
            existing: state.database.clone(),
            state,
        }
    }
}

impl Session {
    pub async fn open(admin: &ConnInfo, timeout: Duration) -> Result<Session> {
        let mut session = Session::connect(admin, timeout).await?;
        let identity = session.identify().await?;
        session.identified(identity);
        Ok(session)
    }

    /// The session's connection, before [`Session::identify`]: until [`Session::identified`]
    /// is given its answer, the version and superuser flag are placeholders, so only reads
    /// that depend on neither (the state read, the role key) may be sent meanwhile.
    pub(crate) async fn connect(admin: &ConnInfo, timeout: Duration) -> Result<Session> {
        let (client, tls) = connect_noting_tls(admin, timeout).await?;
        Ok(Session {
            client,
            admin: admin.clone(),
            timeout,
            superuser: false,
            version: Version(super::version::MINIMUM),
            tls,
        })
    }

    /// Whether the admin is a superuser, and the server's version (refused below 12). Sent
    /// first on the session, it also sets the search path, so reads sent after it in the same
    /// round trip run under it.
    pub(crate) async fn identify(&self) -> Result<(bool, Version)> {
        // Unnamed statements only (query_typed): a pooler in transaction mode cannot keep a
        // named prepared statement from one transaction to the next.
        // The admin session searches only pg_catalog (and pg_temp, last, for nothing it
        // calls): a role that may create objects in `public` of the admin's database (anyone,
        // before PostgreSQL 15) could otherwise overload a catalog function with a better
        // matching signature and run code as the admin. Calls (and operators where a
        // lookalike could match better) are schema-qualified as well, for poolers that do not
        // keep session settings.
        let row = self
            .client
            .query_typed_one(
                "SELECT pg_catalog.current_setting('is_superuser')::bool, \
                        pg_catalog.current_setting('server_version_num')::int, \
                        pg_catalog.current_setting('server_version'), \
                        pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', false)",
                &[],
            )
            .await
            .map_err(|e| {
                Error::server(format!(
                    "could not read the admin role on {}: {}",
                    self.admin.redacted(),
                    describe(&e)
                ))
            })?;
        let number: i32 = row.get(1);
        Ok((row.get(0), Version::check(number, row.get(2))?))
    }

    /// Takes [`Session::identify`]'s answer.
    pub(crate) fn identified(&mut self, (superuser, version): (bool, Version)) {
        self.superuser = superuser;
        self.version = version;
    }

    pub fn admin(&self) -> &ConnInfo {
        &self.admin
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The timeline's database name. A branch tries its candidate names in order (see
    /// [`naming::branch_candidates`]) and takes the first that is free or already its own by
    /// the ownership record; one held by another branch of the app (`Feature/A` next to
    /// `feature-a`, or a branch named after another's hashed form to squat it) is passed over,
    /// so two branches never share a database. Other kinds have one name.
    pub async fn resolve(&self, app: &str, timeline: &Timeline) -> Result<Resolved> {
        let read = self.read_statement();
        let name = timeline.database(app);
        let state = self.read(&read, &name).await?;
        if timeline.kind != Kind::Branch {
            return Ok(Resolved::new(name, state));
        }
        let branch = timeline.branch.as_deref().unwrap_or_default();
        let candidates = naming::branch_candidates(app, branch);
        let mut looked_up = Some((name, state));
        for candidate in &candidates {
            let state = match looked_up.take() {
                Some((first, state)) if &first == candidate => state,
                _ => self.read(&read, candidate).await?,
            };
            let held_by_another_branch = state
                .database
                .as_ref()
                .and_then(|e| e.comment.as_deref())
                .and_then(Ownership::parse)
                .is_some_and(|o| {
                    o.app == app && o.kind == Kind::Branch && !o.same_timeline(app, timeline)
                });
            if !held_by_another_branch {
                return Ok(Resolved::new(candidate.clone(), state));
            }
        }
        Err(Error::server(format!(
            "every database name for branch `{}` is held by another branch of app `{app}`: {}",
            crate::report::inert(branch),
            candidates.join(", ")
        ))
        .with_hint("rename the branch; `deploydb list` shows which branches hold those names"))
    }

    /// Brings the timeline's database (and role) to what this run needs. Runs that find all in
    /// place write nothing and take no lock; a redeploy only rewrites its deploy time (see
    /// [`Session::touch_on_session`]). Otherwise one run leads — takes the timeline's lock in a
    /// transaction on its session and does the work (see [`Session::lead`]) — while racing runs
    /// wait, on their sessions, on a shared lock that they all get at once when the leader is
    /// done, so a herd does not file through one by one. Every wait is bounded.
    pub async fn ensure(&mut self, resolved: &Resolved, target: Target<'_>) -> Result<Ensured> {
        let name = resolved.database.as_str();
        let keys = Keys {
            ensure: lock::key(&self.admin, "ensure", name),
            accept: lock::key(&self.admin, "ensure-accept", name),
        };
        let read = self.read_statement();
        let state = &resolved.state;
        if let Some(done) = self.settled(state, name, &target, false)? {
            tracing::debug!("{name}: in place, nothing to write");
            return Ok(done);
        }
        if let Some(in_place) = self.settled(state, name, &target, true)?
            && let Some(done) = self
                .touch_on_session(&read, name, keys.ensure, &target, in_place)
                .await?
        {
            return Ok(done);
        }
        tracing::info!(
            "{name}: {} under the timeline's lock",
            if state.database.is_none() {
                "creating"
            } else {
                "updating"
            }
        );
        let lock_failed = |detail: String| {
            Error::server(format!(
                "could not lock database {name} for creation: {detail}"
            ))
        };
        loop {
            if Holder::on(&self.client)
                .try_exclusive(keys.ensure)
                .await
                .map_err(lock_failed)?
            {
                let creating = state.database.is_none();
                match self
                    .lead(&read, name, &target, keys.accept, creating)
                    .await?
                {
                    Some(done) => return Ok(done),
                    // The database appeared meanwhile, made without deploydb's lock: look again.
                    None => continue,
                }
            }
            // Someone else leads: wait for it (and for its acceptance check), then read what it
            // left.
            if !Holder::on(&self.client)
                .wait_shared(&[keys.ensure, keys.accept], ENSURE_WAIT)
                .await
                .map_err(lock_failed)?
            {
                return Err(Error::new(
                    ErrorKind::LockTimeout,
                    format!(
                        "another run kept creating database {name} for longer than {}s",
                        ENSURE_WAIT.as_secs()
                    ),
                )
                .with_hint("look for a stuck deploydb run on this server, then retry"));
            }
            let state = self.read(&read, name).await?;
            if let Some(done) = self.settled(&state, name, &target, false)? {
                return Ok(done);
            }
        }
    }

    /// A redeploy whose only news is the time (the common case: a deploy a minute or more
    /// after the last): the record is rewritten in one transaction on the admin session, under
    /// the timeline's lock tried once, from a state read again under it. No second connection
    /// and no wait: a run that holds the lock is already writing this timeline, and the time
    /// can wait for the next deploy. `in_place` is what the unlocked read settled on; `None`
    /// when the state changed meanwhile: the caller then takes the full path.
    async fn touch_on_session(
        &self,
        read: &str,
        name: &str,
        key: i64,
        target: &Target<'_>,
        in_place: Ensured,
    ) -> Result<Option<Ensured>> {
        let lock = Holder::on(&self.client);
        // The read goes out with the lock, inside the transaction the lock opens: one round
        // trip. Without the lock its answer is not used (and the transaction is ended).
        let (got, state) = tokio::join!(lock.try_exclusive(key), self.read(read, name));
        let got = got.map_err(|detail| {
            Error::server(format!(
                "could not lock database {name} to record the deploy: {detail}"
            ))
        })?;
        if !got {
            tracing::debug!("{name}: another run holds its lock; the deploy time waits");
            return Ok(Some(in_place));
        }
        let state = match state {
            Ok(state) => state,
            Err(e) => {
                lock.release().await;
                return Err(e);
            }
        };
        let (mut done, existing) = match (self.settled(&state, name, target, true), &state.database)
        {
            (Ok(Some(done)), Some(existing)) => (done, existing),
            (other, _) => {
                lock.release().await;
                return other.map(|_| None);
            }
        };
        let record = existing.comment.as_deref().and_then(Ownership::parse);
        let Some(mut record) =
            record.filter(|r| is_stale(r.last_deployed_at.as_deref(), state.now_epoch))
        else {
            // Another run wrote it a moment ago.
            lock.release().await;
            return Ok(Some(done));
        };
        record.last_deployed_at =
            Ownership::new(target.app, target.timeline, state.now.clone()).last_deployed_at;
        done.warning = self.touch(name, &existing.owner, &record, true).await;
        Ok(Some(done))
    }

    /// The one query that reads a timeline's state, the same for every major (so it can go out
    /// before the version is known; see [`Session::identify`]). It avoids the pg_roles view
    /// (`to_regrole` instead): a new backend would parse the view's rule first, which is a good
    /// part of a short session's cost on the server. The time comes as `now()` and is formatted
    /// here (see [`super::timestamp`]), for the same reason.
    fn read_statement(&self) -> String {
        let may_act_as = super::version::may_act_as("r.oid");
        format!(
            "SELECT pg_catalog.now(), {}, pg_catalog.pg_get_userbyid(d.datdba), \
                    r.oid IS NOT NULL, {}, \
                    coalesce({may_act_as}, false) \
             FROM (SELECT pg_catalog.to_regrole(pg_catalog.quote_ident($1))::oid AS oid) AS r \
             LEFT JOIN pg_database d ON d.datname = $1",
            super::catalog::database_comment("d.oid"),
            super::catalog::role_comment("r.oid")
        )
    }

    async fn read(&self, statement: &str, name: &str) -> Result<State> {
        let row = self
            .client
            .query_typed_one(statement, &[(&name, Type::TEXT)])
            .await
            .map_err(|e| self.statement_error("look up", name, &e))?;
        // Whole seconds, as the record keeps them; a server clock before 1970 reads as 1970.
        let now_epoch = row
            .get::<_, SystemTime>(0)
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        Ok(State {
            now: super::timestamp::format_utc(now_epoch),
            now_epoch,
            database: row.get::<_, Option<String>>(2).map(|owner| Existing {
                comment: row.get(1),
                owner,
            }),
            role: RoleState {
                exists: row.get(3),
                comment: row.get(4),
                admin_may_use: row.get(5),
            },
        })
    }

    /// `Some` when nothing needs writing: the database is there and this timeline's, its role
    /// (under role isolation) owns it with the current password, and the deploy time is fresh.
    /// With `any_time`, a deploy time that is due for rewriting does not count.
    fn settled(
        &self,
        state: &State,
        name: &str,
        target: &Target<'_>,
        any_time: bool,
    ) -> Result<Option<Ensured>> {
        let Some(existing) = &state.database else {
            return Ok(None);
        };
        // No record yet may be a racing run's creation in progress (the database is made, then
        // recorded in a second transaction): decide that under the timeline's lock, where the
        // creator has finished, not from this unlocked read.
        if existing
            .comment
            .as_deref()
            .and_then(Ownership::parse)
            .is_none()
        {
            return Ok(None);
        }
        check_owner(existing.comment.as_deref(), name, target)?;
        let record = existing.comment.as_deref().and_then(Ownership::parse);
        if !any_time
            && record
                .as_ref()
                .is_some_and(|r| is_stale(r.last_deployed_at.as_deref(), state.now_epoch))
        {
            return Ok(None);
        }
        if target.isolation == Isolation::Role {
            let fresh = Ownership::new(target.app, target.timeline, state.now.clone());
            let plan = self.role_plan(name, target, &fresh, &state.role)?;
            if !plan.is_empty() || existing.owner != name {
                return Ok(None);
            }
        }
        Ok(Some(Ensured {
            database: name.to_string(),
            created: false,
            warning: None,
        }))
    }

    /// What the timeline's role needs (see [`role::plan`]), with the app's credentials.
    fn role_plan(
        &self,
        name: &str,
        target: &Target<'_>,
        record: &Ownership,
        state: &RoleState,
    ) -> Result<Vec<String>> {
        let password = target
            .credentials
            .password
            .clone()
            .unwrap_or_else(|| Secret::new(""));
        let key_id = target.role_key_id.unwrap_or_default();
        role::plan(
            name,
            &password,
            key_id,
            record,
            state,
            self.version,
            self.superuser,
        )
    }

    /// The work, under the timeline's lock, which the session holds in the transaction it
    /// opened to take it; every path out of here ends that transaction. Reads the state again
    /// under the lock, and checks the admin's privileges before anything is written. Changes to
    /// an existing database and its role are made in that one transaction, so a failure
    /// leaves the server as it was. `None`: the database appeared without deploydb's lock.
    /// When the database was missing before the lock (`creating`), the worker that will make
    /// it (see [`Session::create`]) connects while the state is read again.
    async fn lead(
        &self,
        read: &str,
        name: &str,
        target: &Target<'_>,
        accept_key: i64,
        creating: bool,
    ) -> Result<Option<Ensured>> {
        let (planned, worker) = tokio::join!(self.plan_under_lock(read, name, target), async {
            if creating {
                Some(connect(&self.admin, self.timeout).await)
            } else {
                None
            }
        });
        let work = match planned {
            Ok(Planned::Settled(done)) => {
                self.end_transaction("ROLLBACK").await?;
                return Ok(Some(done));
            }
            Ok(Planned::Work(work)) => *work,
            Err(e) => {
                let _ = self.end_transaction("ROLLBACK").await;
                return Err(e);
            }
        };
        let Some(existing) = &work.state.database else {
            let worker = async {
                match worker {
                    Some(connected) => connected,
                    None => connect(&self.admin, self.timeout).await,
                }
            };
            return self.create(name, target, &work, accept_key, worker).await;
        };
        match self.update(name, target, &work, existing).await {
            Ok(done) => {
                self.end_transaction("COMMIT").await?;
                Ok(Some(done))
            }
            Err(e) => {
                let _ = self.end_transaction("ROLLBACK").await;
                Err(e)
            }
        }
    }

    /// The state read under the lock, and what it needs: nothing, or the record to write and
    /// the role's statements, once the database's owner and the admin's privileges check out.
    async fn plan_under_lock(
        &self,
        read: &str,
        name: &str,
        target: &Target<'_>,
    ) -> Result<Planned> {
        let state = self.read(read, name).await?;
        if let Some(done) = self.settled(&state, name, target, false)? {
            return Ok(Planned::Settled(done));
        }
        let record = Ownership::new(target.app, target.timeline, state.now.clone());
        let plan = if target.isolation == Isolation::Role {
            self.role_plan(name, target, &record, &state.role)?
        } else {
            Vec::new()
        };
        if let Some(existing) = &state.database {
            check_owner(existing.comment.as_deref(), name, target)?;
        }
        self.require_privileges(state.database.is_none(), !plan.is_empty())
            .await?;
        Ok(Planned::Work(Box::new(Work {
            state,
            record,
            plan,
        })))
    }

    /// An existing database, brought up to date inside the lock's transaction (the caller
    /// commits): its role created or changed, the database handed to it (one made under shared
    /// isolation), and the deploy time rewritten when due.
    async fn update(
        &self,
        name: &str,
        target: &Target<'_>,
        work: &Work,
        existing: &Existing,
    ) -> Result<Ensured> {
        let Work {
            state,
            record,
            plan,
        } = work;
        role::apply_in_transaction(&self.client, name, plan, !state.role.exists).await?;
        let mut owner = existing.owner.clone();
        if target.isolation == Isolation::Role && existing.owner != name {
            self.hand_over(name).await?;
            owner = name.to_string();
        }
        let mut warning = None;
        if let Some(mut previous) = existing.comment.as_deref().and_then(Ownership::parse)
            && is_stale(previous.last_deployed_at.as_deref(), state.now_epoch)
        {
            previous.last_deployed_at = record.last_deployed_at.clone();
            warning = self.touch(name, &owner, &previous, false).await;
        }
        Ok(Ensured {
            database: name.to_string(),
            created: false,
            warning,
        })
    }

    /// Ends the transaction open on the session (and the lock taken in it).
    async fn end_transaction(&self, how: &str) -> Result<()> {
        self.client.batch_execute(how).await.map_err(|e| {
            Error::server(format!(
                "could not end the transaction on {}: {}",
                self.admin.redacted(),
                describe(&e)
            ))
        })
    }

    /// Fails before the first write when the admin lacks a privilege this run needs, naming it.
    async fn require_privileges(&self, creating_database: bool, changing_role: bool) -> Result<()> {
        if self.superuser || !(creating_database || changing_role) {
            return Ok(());
        }
        let (createdb, createrole) = self.privileges().await?;
        if creating_database && !createdb {
            return Err(Error::server(format!(
                "the admin role `{}` may not create databases: it needs CREATEDB",
                self.admin.user
            ))
            .with_hint("grant it CREATEDB (ALTER ROLE ... CREATEDB) or use another admin URL"));
        }
        if changing_role && !createrole {
            return Err(Error::server(format!(
                "the admin role `{}` may not create or change the timeline's role: it needs CREATEROLE",
                self.admin.user
            ))
            .with_hint(role::PRIVILEGE_HINT));
        }
        Ok(())
    }

    /// The admin's CREATEDB and CREATEROLE attributes.
    pub(crate) async fn privileges(&self) -> Result<(bool, bool)> {
        let row = self
            .client
            .query_typed_one(
                "SELECT rolcreatedb, rolcreaterole FROM pg_catalog.pg_roles WHERE rolname = current_user",
                &[],
            )
            .await
            .map_err(|e| {
                Error::server(format!(
                    "could not read the admin role's privileges on {}: {}",
                    self.admin.redacted(),
                    describe(&e)
                ))
            })?;
        Ok((row.get(0), row.get(1)))
    }

    /// A new database, made while the session holds the timeline's lock in its transaction.
    /// `CREATE DATABASE` cannot run inside a transaction, so a second connection (the worker)
    /// makes it while the session creates the role in its transaction: the two costliest
    /// statements overlap, and the worker's connecting overlaps them too. The session then gives
    /// the database to the role, records ownership, revokes PUBLIC's rights and opens it, and
    /// commits: the role, its database's record and the opening appear at once. Under role
    /// isolation the database is made with `ALLOW_CONNECTIONS false`, so nobody can connect
    /// before the revoke. Before that commit releases the lock, the worker takes the
    /// acceptance lock, which racing runs wait for too: they go on only after the template's
    /// objects are handed over and the new database has answered (see
    /// [`Session::wait_until_connectable`]). A failure before the commit rolls the role back
    /// and drops the database; after it, drops both.
    async fn create(
        &self,
        name: &str,
        target: &Target<'_>,
        work: &Work,
        accept_key: i64,
        worker: impl Future<Output = Result<Client>>,
    ) -> Result<Option<Ensured>> {
        let Work {
            state,
            record,
            plan,
        } = work;
        let role_mode = target.isolation == Isolation::Role;
        let creating_role = role_mode && !state.role.exists;
        // The acceptance check's socket is opened meanwhile: the server forks its backend while
        // a core is free (CREATE DATABASE keeps one busy), not after the commit.
        let (made, role, socket) = tokio::join!(
            self.make_database(worker, name, role_mode, target.template),
            role::apply_in_transaction(&self.client, name, plan, creating_role),
            super::connect::open_socket(target.credentials)
        );
        // Undoes the transaction (and the role made in it), and the database when it was made.
        let rollback = async |made: bool| {
            let _ = self.end_transaction("ROLLBACK").await;
            if made {
                self.drop_database_quietly(name).await;
            }
        };
        let (worker, from_template, warning) = match (made, role) {
            (Ok(Made::Created(worker, from_template, warning)), Ok(())) => {
                (worker, from_template, warning)
            }
            (Ok(Made::Created(..)), Err(e)) => {
                rollback(true).await;
                return Err(e);
            }
            (Ok(Made::Exists), _) => {
                rollback(false).await;
                return Ok(None);
            }
            (Err(e), _) => {
                rollback(false).await;
                return Err(e);
            }
        };
        let ident = quote_ident(name);
        let comment = format!(
            "COMMENT ON DATABASE {ident} IS {}",
            quote_literal(&record.to_json())
        );
        let finish = if role_mode {
            format!(
                "ALTER DATABASE {ident} OWNER TO {ident}; SET LOCAL ROLE {ident}; {comment}; \
                 REVOKE CONNECT, TEMPORARY ON DATABASE {ident} FROM PUBLIC; \
                 ALTER DATABASE {ident} ALLOW_CONNECTIONS true"
            )
        } else {
            comment
        };
        let accept = Holder::on(&worker);
        let (finished, accepting) = tokio::join!(
            self.client.batch_execute(&finish),
            accept.try_exclusive(accept_key)
        );
        if !matches!(accepting, Ok(true)) {
            // Only racers are affected: they may go on before the acceptance check ends.
            tracing::debug!("{name}: the acceptance lock is taken or failed: {accepting:?}");
        }
        if let Err(e) = finished {
            rollback(true).await;
            return Err(self.statement_error("record ownership of", name, &e));
        }
        if let Err(e) = self.end_transaction("COMMIT").await {
            rollback(true).await;
            return Err(e);
        }
        let accepted = async {
            if role_mode && let Some(template) = from_template {
                self.take_over_copied_objects(name, template).await?;
            }
            self.wait_until_connectable(target.credentials, socket)
                .await
        };
        if let Err(e) = accepted.await {
            // A database nobody can reach through this URL (a pooler without a route to it)
            // is not a timeline: undo it, so fixing the pooler and running again starts clean.
            self.drop_database_quietly(name).await;
            if creating_role {
                self.drop_role_quietly(name).await;
            }
            return Err(e);
        }
        // Closing the worker ends its transaction and the acceptance lock with it, as a
        // ROLLBACK would, without a round trip to wait for: on two cores that answer came as
        // late as 3.5 ms, while the check's backend was still exiting.
        drop(accept);
        drop(worker);
        Ok(Some(Ensured {
            database: name.to_string(),
            created: true,
            warning,
        }))
    }

    /// The worker's part of [`Session::create`]: a connection of its own, and `CREATE
    /// DATABASE` on it — from the template when one is asked for and usable, with a warning
    /// when it is not. `Made::Exists` when a database of that name was made meanwhile.
    async fn make_database<'t>(
        &self,
        worker: impl Future<Output = Result<Client>>,
        name: &str,
        role_mode: bool,
        template: Option<&'t str>,
    ) -> Result<Made<'t>> {
        let worker = worker.await?;
        let ident = quote_ident(name);
        let options = if role_mode {
            " ALLOW_CONNECTIONS false"
        } else {
            ""
        };
        let mut warning = None;
        if let Some(template) = template {
            let statement = format!(
                "CREATE DATABASE {ident} TEMPLATE {}{options}",
                quote_ident(template)
            );
            match worker.batch_execute(&statement).await {
                Ok(()) => return Ok(Made::Created(worker, Some(template), None)),
                Err(e) if matches!(e.code().map(|c| c.code()), Some("42P04" | "23505")) => {
                    return Ok(Made::Exists);
                }
                Err(e) => {
                    warning = Some(format!(
                        "template {template} could not be used ({}); {name} starts empty",
                        describe(&e)
                    ));
                }
            }
        }
        let statement = format!("CREATE DATABASE {ident}{options}");
        match worker.batch_execute(&statement).await {
            Ok(()) => Ok(Made::Created(worker, None, warning)),
            // 42P04 duplicate_database, or 23505 unique_violation when a concurrent create
            // committed between our look-up and our insert into pg_database.
            Err(e) => match e.code().map(|c| c.code()) {
                Some("42P04" | "23505") => Ok(Made::Exists),
                Some("42501") => Err(Error::server(format!(
                    "the admin role `{}` may not create database {name}: it needs CREATEDB ({})",
                    self.admin.user,
                    describe(&e)
                ))
                .with_hint("grant it CREATEDB (ALTER ROLE ... CREATEDB) or use another admin URL")),
                _ => Err(self.statement_error("create", name, &e)),
            },
        }
    }

    /// The objects copied from the template belong to the template's role: in the new
    /// database (only there) they are handed to the branch's own role, which can then alter and
    /// drop them. Branch roles are never members of the template's role, so no branch can
    /// change the template every later branch is copied from.
    async fn take_over_copied_objects(&self, name: &str, template: &str) -> Result<()> {
        let inside = connect(&self.admin.with_database(name), self.timeout).await?;
        inside
            .batch_execute(&format!(
                "REASSIGN OWNED BY {} TO {}",
                quote_ident(template),
                quote_ident(name)
            ))
            .await
            .map_err(|e| self.statement_error("hand the template's objects over in", name, &e))
    }

    /// A freshly created database can refuse connections for a moment on some managed
    /// services; the next pipeline step should never be the first to find out. When the new
    /// role cannot get in, the admin tries the same database through the same URL: if it cannot
    /// either, while it reached `postgres` there, what is in between (a pooler without a `* =`
    /// entry) does not route new databases. PgBouncer hides that behind an authentication
    /// failure, so the error text alone cannot tell.
    async fn wait_until_connectable(
        &self,
        info: &ConnInfo,
        socket: Option<tokio::net::TcpStream>,
    ) -> Result<()> {
        let client = match super::connect::connect_over(info, self.timeout, socket).await {
            Ok(client) => client,
            Err(e) => {
                let mut probe = self.admin.clone();
                probe.dbname = info.dbname.clone();
                if info.dbname != self.admin.dbname && connect(&probe, self.timeout).await.is_err()
                {
                    return Err(Error::server(format!(
                        "{}:{} does not route to the new database {} (a pooler without an entry for it?); it was dropped again",
                        info.host, info.port, info.dbname
                    ))
                    .with_hint("add a `* =` fallback entry to the pooler's [databases] section, or point the admin URL at the server itself"));
                }
                return Err(e);
            }
        };
        client.simple_query("SELECT 1").await.map_err(|e| {
            Error::server(format!(
                "database {} does not answer SELECT 1: {}",
                info.dbname,
                describe(&e)
            ))
        })?;
        Ok(())
    }

    /// Undoes a database this run created, as its owner; used only on the way out of a failure.
    async fn drop_database_quietly(&self, name: &str) {
        let ident = quote_ident(name);
        // The admin holds the owner's privileges (see `version`), so no SET ROLE is needed;
        // DROP DATABASE could not share a transaction with one anyway.
        let _ = self
            .client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {ident}"))
            .await;
    }

    /// Undoes a role this run created; used only on the way out of a failure.
    async fn drop_role_quietly(&self, name: &str) {
        let _ = self
            .client
            .batch_execute(&format!("DROP ROLE IF EXISTS {}", quote_ident(name)))
            .await;
    }

    /// Rewrites the ownership record (with a new `last_deployed_at`) as the database's owner,
    /// inside the transaction open on the session. With `commit`, the same round trip commits
    /// it (a failure rolls the whole transaction back); without, the caller commits, and a
    /// failure undoes only this (a savepoint). A failure is a warning: the deploy goes on.
    async fn touch(
        &self,
        name: &str,
        owner: &str,
        record: &Ownership,
        commit: bool,
    ) -> Option<String> {
        let rewrite = format!(
            "SET LOCAL ROLE {}; COMMENT ON DATABASE {} IS {}; RESET ROLE",
            quote_ident(owner),
            quote_ident(name),
            quote_literal(&record.to_json())
        );
        let (statement, undo) = if commit {
            (format!("{rewrite}; COMMIT"), "ROLLBACK")
        } else {
            (
                format!("SAVEPOINT deploydb_touch; {rewrite}; RELEASE SAVEPOINT deploydb_touch"),
                "ROLLBACK TO SAVEPOINT deploydb_touch",
            )
        };
        let e = self.client.batch_execute(&statement).await.err()?;
        // A failed statement leaves the transaction aborted: end it, or go back to before
        // this, or every later statement on this session would fail too.
        let _ = self.client.batch_execute(undo).await;
        Some(touch_failed(name, &e))
    }

    /// Gives an existing database (made under shared isolation) to its role and closes it to
    /// every other role, inside the transaction open on the session.
    async fn hand_over(&self, name: &str) -> Result<()> {
        let ident = quote_ident(name);
        let statement = format!(
            "ALTER DATABASE {ident} OWNER TO {ident}; SET LOCAL ROLE {ident}; \
             REVOKE CONNECT, TEMPORARY ON DATABASE {ident} FROM PUBLIC; RESET ROLE"
        );
        self.client.batch_execute(&statement).await.map_err(|e| {
            self.statement_error("give its role", name, &e)
                .with_hint("the admin must own the database (or be a superuser) to hand it to the timeline's role")
        })
    }

    fn statement_error(&self, action: &str, name: &str, e: &tokio_postgres::Error) -> Error {
        Error::server(format!(
            "could not {action} database {name} on {}: {}",
            self.admin.redacted(),
            describe(e)
        ))
    }
}

fn touch_failed(name: &str, e: &tokio_postgres::Error) -> String {
    format!(
        "could not record the deploy of {name}: {} (prune --older-than may misjudge this database)",
        describe(e)
    )
}

/// The timeline's two lock keys: `ensure`, held by the run that leads while it writes, and
/// `accept`, held by its worker until the new database has answered.
struct Keys {
    ensure: i64,
    accept: i64,
}

/// What the state read under the lock asks for.
enum Planned {
    Settled(Ensured),
    Work(Box<Work>),
}

/// The state read under the lock, the ownership record to write and the role's statements.
struct Work {
    state: State,
    record: Ownership,
    plan: Vec<String>,
}

/// What the worker's `CREATE DATABASE` did: made it (on this connection, from this template,
/// with this warning), or found it made.
enum Made<'t> {
    Created(Client, Option<&'t str>, Option<String>),
    Exists,
}

/// How long a racer waits for the run that is creating the same timeline's database.
const ENSURE_WAIT: Duration = Duration::from_secs(300);

/// What one read of the catalog says about a timeline: its database, its role, the time.
#[derive(Clone)]
struct State {
    now: String,
    now_epoch: i64,
    database: Option<Existing>,
    role: RoleState,
}

/// The deploy time is rewritten at most once a minute: a herd of runs for one timeline then
/// costs one catalog write, not one each, and `prune --older-than` counts in days anyway.
fn is_stale(last_deployed_at: Option<&str>, now: i64) -> bool {
    match last_deployed_at.and_then(super::timestamp::epoch_seconds) {
        Some(at) => now - at >= 60,
        None => true,
    }
}

/// Refuses a database whose ownership record names another app or timeline kind: that is a
/// sign of a naming collision, and using it could run one timeline's migrations on another's
/// data. A database of that name without a record is refused too: deploydb does not know whose
/// it is, and taking it over would hand someone else's data to the timeline's role.
fn check_owner(comment: Option<&str>, name: &str, target: &Target<'_>) -> Result<()> {
    let Some(owner) = comment.and_then(Ownership::parse) else {
        return Err(Error::server(format!(
            "database {name} exists but has no deploydb ownership record; deploydb will not use it"
        ))
        .with_hint(format!(
            "drop or rename it if it is left over, or adopt it: COMMENT ON DATABASE it with the record `deploydb list --format json` shows for a timeline of app `{}`",
            target.app
        )));
    };
    if !owner.matches_name(name) {
        return Err(Error::server(format!(
            "database {name} carries a deploydb record that does not match its name (its owner may have rewritten it); deploydb will not use it"
        ))
        .with_hint("inspect the database and its comment; drop it or restore the record as the admin"));
    }
    if !owner.same_timeline(target.app, target.timeline) {
        return Err(Error::server(format!(
            "database {name} belongs to app `{}` ({}) according to its deploydb record, not to app `{}` ({})",
            crate::report::inert(&owner.app),
            crate::report::inert(&describe_record(&owner)),
            target.app,
            crate::report::inert(&target.timeline.to_string()),
        ))
        .with_hint("check `app` in deploydb.toml; deploydb will not touch another timeline's database"));
    }
    Ok(())
}

/// A record's timeline as `branch:x`, `preview (#5)` or the kind.
fn describe_record(record: &Ownership) -> String {
    match (record.kind, &record.branch, record.pr) {
        (Kind::Branch, Some(branch), _) => format!("branch:{branch}"),
        (Kind::Preview, _, Some(pr)) => format!("preview (#{pr})"),
        (kind, _, _) => kind.as_str().to_string(),
    }
}

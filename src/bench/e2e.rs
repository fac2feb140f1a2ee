//! The gateway end to end: the sandbox in this process, the gateway in this process or as a
//! child `gateway run`; N valid orders published (burst or open loop) with each order's publish
//! instant, final results read as they arrive, then checked against the sandbox ledger.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use sandbox_kit::Faults;

use super::check;
use super::child::{self, ChildGateway, Sample};
use super::collector::{self, Collector};
use super::core_wait::{CoreWait, ThreadWaits};
use super::disk_io::DiskIo;
use super::machine::CpuUse;
use super::pacing::Pacing;
use super::postgres_wal::WalPosition;
use super::progress::{Counters, Reporter};
use super::publisher::{self, Published};
use super::stats::{self, Memory};
use super::store_work::StoreWork;
use super::workload::{DatabaseKind, FreshDatabase, Workload};
use super::BenchArgs;
use crate::amqp;
use crate::app::RunningGateway;
use crate::config::Settings;
use crate::demo::stack::{self, LocalSandbox};

/// What the gateway run measured and found.
#[derive(Debug)]
pub struct GatewayReport {
    pub orders: usize,
    pub first_publish: Instant,
    pub last_publish: Instant,
    pub last_confirm: Instant,
    /// Orders per second between the first and the last publish (the rate achieved).
    pub achieved_publish_rate: f64,
    /// The longest an order went out after its due time under `--rate`.
    pub max_publish_lag: Duration,
    pub last_final: Option<Instant>,
    /// When the first final result arrived: how soon upstream sees anything finished.
    pub first_final: Option<Instant>,
    /// CPU time of this process (the sandbox and the bench, and the gateway unless it runs
    /// as its own process) around the gateway phase.
    pub cpu_before: Option<Duration>,
    pub cpu_after: Option<Duration>,
    /// The gateway processes' own CPU time from ready to the last final result, summed, and
    /// the largest peak RSS among them (`--separate-process` only).
    pub gateway_cpu: Option<Duration>,
    /// How long the gateway processes' threads were ready to run but waited for a core over
    /// the same span, summed, and the part of it that was the store's threads
    /// (`--separate-process` only; see [`super::core_wait`]).
    pub gateway_core_wait: Option<CoreWait>,
    /// The gateway processes' read and write calls and bytes sent to storage over the same
    /// span, summed (`--separate-process` only; see [`super::disk_io`]).
    pub gateway_io: Option<DiskIo>,
    /// The machine's, RabbitMQ's and PostgreSQL's CPU time over the same span.
    pub machine: CpuUse,
    /// How long that span was: from before the results reader connected to the last final
    /// result (the reader's settling time after it is not in it).
    pub machine_span: Duration,
    /// What the gateway processes' counters grew by over the same span (`--separate-process`
    /// only).
    pub store_work: Option<StoreWork>,
    /// Bytes the PostgreSQL server wrote to its WAL over the same span (PostgreSQL runs only).
    pub postgres_wal_bytes: Option<u64>,
    pub gateway_peak_kib: Option<u64>,
    /// Each order's publish → final result latency.
    pub latencies: Vec<Duration>,
    /// Result messages of any status read until the last final one arrived.
    pub result_messages: usize,
    /// Distinct (order, seq) pairs among them: `result_messages / distinct_results` is how
    /// many times each result row was published (1.00 when no relay repeats a row).
    pub distinct_results: usize,
    pub succeeded: usize,
    pub credits: usize,
    pub memory_before: Option<Memory>,
    pub memory_after: Option<Memory>,
    pub problems: Vec<String>,
}

/// Applies the throughput tuning the command line asks for (see `BenchArgs`).
pub fn tune(settings: &mut Settings, args: &BenchArgs) {
    settings.amqp.prefetch = args.prefetch;
    settings.dispatcher.tick_ms = args.tick_ms;
    settings.dispatcher.batch_size = args.batch_size;
    settings.dispatcher.provider_concurrency = args.provider_concurrency;
    settings.amqp.publish_intermediate_results = !args.final_results_only;
}

/// The gateways of a run: in this process, or child processes.
enum Gateways {
    InProcess(Vec<RunningGateway>),
    Children(Vec<ChildGateway>),
}

impl Gateways {
    /// Starts `count` gateways on `settings` (the first on its prepared listener, the others on
    /// free ports; callbacks all go to the first).
    async fn start(settings: &Settings, sandbox: &LocalSandbox, args: &BenchArgs) -> anyhow::Result<Self> {
        let mut gateways = if args.separate_process {
            Self::Children(Vec::new())
        } else {
            Self::InProcess(Vec::new())
        };
        let config_dir = child::config_dir(args.config_dir.as_deref());
        for index in 0..args.gateways {
            let listen = if index == 0 {
                settings.http.listen.clone()
            } else if args.separate_process {
                format!("127.0.0.1:{}", stack::free_port()?)
            } else {
                "127.0.0.1:0".to_string()
            };
            let started = match &mut gateways {
                Self::InProcess(running) => {
                    let mut more = settings.clone();
                    more.http.listen = listen;
                    RunningGateway::start(more).await.map(|gateway| running.push(gateway))
                }
                Self::Children(children) => {
                    let variables = child::environment(settings, sandbox.address, &listen);
                    if index == 0 {
                        let environment = std::env::var("GATEWAY_ENV").ok().filter(|name| !name.is_empty());
                        child::check(
                            &config_dir,
                            environment.as_deref(),
                            child::inherited(),
                            &variables,
                            settings,
                        )?;
                    }
                    ChildGateway::start(&config_dir, &variables, &listen)
                        .await
                        .map(|gateway| children.push(gateway))
                }
            };
            if let Err(error) = started {
                gateways.stop().await;
                return Err(error.context(format!("could not start gateway {}", index + 1)));
            }
        }
        Ok(gateways)
    }

    /// The children's summed CPU time and largest peak RSS; `None` in process.
    fn sample(&self) -> Option<Sample> {
        let Self::Children(children) = self else {
            return None;
        };
        let samples: Vec<Sample> = children.iter().map(ChildGateway::sample).collect();
        let cpu = samples.iter().map(|sample| sample.cpu).sum::<Option<Duration>>();
        let memory = samples
            .iter()
            .filter_map(|sample| sample.memory)
            .max_by_key(|memory| memory.peak_kib);
        let io = samples.iter().flat_map(|sample| sample.io.clone()).collect();
        let threads = samples.into_iter().flat_map(|sample| sample.threads).collect();
        Some(Sample {
            cpu,
            memory,
            threads,
            io,
        })
    }

    /// The children's group commits, write units, leases and provider calls so far, summed;
    /// `None` in process, or when a child's `/metrics` does not answer.
    async fn store_work(&self) -> Option<StoreWork> {
        let Self::Children(children) = self else {
            return None;
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .ok()?;
        let mut works = Vec::with_capacity(children.len());
        for gateway in children {
            works.push(gateway.store_work(&client).await?);
        }
        Some(works.into_iter().sum())
    }

    async fn stop(self) {
        match self {
            Self::InProcess(running) => {
                for gateway in running.into_iter().rev() {
                    gateway.stop().await;
                }
            }
            Self::Children(children) => {
                for gateway in children.into_iter().rev() {
                    if let Err(error) = gateway.stop().await {
                        eprintln!("note: {error:#}");
                    }
                }
            }
        }
    }
}

/// The PostgreSQL server's WAL insert position, on a PostgreSQL run.
async fn postgres_wal(args: &BenchArgs) -> Option<WalPosition> {
    match args.database {
        DatabaseKind::Postgres => WalPosition::read(&args.postgres_url).await,
        DatabaseKind::Sqlite => None,
    }
}

/// Deletes the run's queues and exchanges, saying so when some may be left.
async fn delete_queues(settings: &Settings) {
    if !stack::delete_queues(&settings.amqp).await {
        eprintln!(
            "warning: some of the run's queues or exchanges may be left on the broker (queue {}); delete them with rabbitmqctl",
            settings.amqp.orders_queue
        );
    }
}

/// Runs the gateway phase; the stack, its queues and the database are removed afterwards.
pub async fn run(mut settings: Settings, args: &BenchArgs, run_id: &str) -> anyhow::Result<GatewayReport> {
    // Read before the database is made, so that a configuration it refuses leaves none behind.
    let routing = settings.routing_table()?;
    let database = FreshDatabase::create(args.database, &args.postgres_url, run_id).await?;
    settings.database.url = database.url();
    tune(&mut settings, args);
    let workload = Workload::new(
        args.orders,
        run_id,
        args.channels,
        Box::new(move |bin| routing.bank_for_bin(bin).to_string()),
    );
    let memory_before = Memory::read();
    let cpu_before = stats::process_cpu();
    let (settings, sandbox) = match stack::prepare(settings, &stack_run_id(run_id)).await {
        Ok(prepared) => prepared,
        Err(error) => {
            database.remove().await;
            return Err(error);
        }
    };
    // Every emulated provider, so none keeps the default faults.
    for provider in settings.providers.iter().map(|provider| provider.key.as_str()) {
        let faults = Faults {
            complete_after_ms: args.complete_after_ms,
            latency_ms: args.provider_latency_ms,
            ..Faults::default()
        };
        sandbox.kit.set_faults(provider, faults);
    }
    sandbox.kit.directory.register(workload.accounts());
    let gateways = match Gateways::start(&settings, &sandbox, args).await {
        Ok(gateways) => gateways,
        Err(error) => {
            sandbox.stop();
            delete_queues(&settings).await;
            database.remove().await;
            return Err(error);
        }
    };

    let work_before = gateways.store_work().await;
    let wal_before = postgres_wal(args).await;
    let gateway_before = gateways.sample();
    let machine_before = CpuUse::read();
    let machine_from = Instant::now();
    let measuring = measure(&settings, &workload, args).await;
    let machine = CpuUse::read().since(machine_before);
    let machine_span = machine_from.elapsed();
    let gateway_after = gateways.sample();
    let postgres_wal_bytes = postgres_wal(args)
        .await
        .zip(wal_before)
        .map(|(after, before)| after.bytes_since(before));
    let store_work = gateways
        .store_work()
        .await
        .zip(work_before)
        .map(|(after, before)| after - before);
    let memory_after = Memory::read();
    let cpu_after = stats::process_cpu();
    // The reader's settling time, the gateways still running (see `collector::start`).
    let measured = match measuring {
        Ok(measuring) => measuring.collected().await,
        Err(error) => Err(error),
    };
    gateways.stop().await;
    let ledger = sandbox.kit.ledger.entries();
    sandbox.stop();
    delete_queues(&settings).await;
    database.remove().await;
    let (published, collected) = measured?;

    let latencies = stats::per_order_latencies(
        &published.sent,
        collected
            .arrivals
            .iter()
            .map(|arrival| arrival.as_ref().map(|arrival| arrival.at)),
    );
    let (succeeded, credits, problems) = check::verify(&workload.ids, &collected.arrivals, &ledger);
    let arrived = || collected.arrivals.iter().flatten().map(|arrival| arrival.at);
    let gateway_cpu = match (&gateway_before, &gateway_after) {
        (Some(before), Some(after)) => after
            .cpu
            .zip(before.cpu)
            .map(|(after, before)| after.saturating_sub(before)),
        _ => None,
    };
    let samples = gateway_before.as_ref().zip(gateway_after.as_ref());
    let gateway_core_wait =
        samples.and_then(|(before, after)| summed_between(&before.threads, &after.threads, ThreadWaits::since));
    let gateway_io = samples.and_then(|(before, after)| summed_between(&before.io, &after.io, DiskIo::since));
    Ok(GatewayReport {
        orders: workload.count,
        first_publish: published.first,
        last_publish: published.last,
        last_confirm: published.last_confirm,
        achieved_publish_rate: published.achieved_rate(),
        max_publish_lag: published.max_lag,
        last_final: arrived().max(),
        first_final: arrived().min(),
        cpu_before,
        cpu_after,
        gateway_cpu,
        gateway_core_wait,
        gateway_io,
        machine,
        machine_span,
        store_work,
        postgres_wal_bytes,
        gateway_peak_kib: gateway_after
            .and_then(|sample| sample.memory)
            .map(|memory| memory.peak_kib),
        latencies,
        result_messages: collected.messages,
        distinct_results: collected.distinct,
        succeeded,
        credits,
        memory_before,
        memory_after,
        problems,
    })
}

/// The name suffix the gateway phase gives the stack (queues, exchanges) of run `run_id`.
pub fn stack_run_id(run_id: &str) -> String {
    format!("bench-{run_id}")
}

/// What each child gateway's readings (its threads' waits for a core, its I/O counters) say
/// happened between two samples, `since` of each pair, summed; `None` if any child's could not
/// be read at either end.
fn summed_between<R, T>(before: &[Option<R>], after: &[Option<R>], since: impl Fn(&R, &R) -> T) -> Option<T>
where
    T: Default + std::ops::Add<Output = T>,
{
    if before.len() != after.len() {
        return None;
    }
    before
        .iter()
        .zip(after)
        .map(|(before, after)| Some(since(after.as_ref()?, before.as_ref()?)))
        .try_fold(T::default(), |sum, span| Some(sum + span?))
}

/// A run measured up to its last final result, whose results reader reads on for a while
/// (see [`collector::start`]).
struct Measured {
    published: Published,
    reader: tokio::task::JoinHandle<anyhow::Result<collector::Collected>>,
    reporter: Reporter,
    connection: lapin::Connection,
}

impl Measured {
    /// Waits for the reader to finish; what it read.
    async fn collected(self) -> anyhow::Result<(Published, collector::Collected)> {
        let collected = self.reader.await??;
        drop(self.reporter);
        let _ = self.connection.close(200, "done".into()).await;
        Ok((self.published, collected))
    }
}

/// Starts the results reader, publishes every order, and returns once every order has its
/// final result (or the reader gave up), printing progress every few seconds. The figures of
/// the run are read then, before the reader's settling time.
async fn measure(settings: &Settings, workload: &Workload, args: &BenchArgs) -> anyhow::Result<Measured> {
    let amqp_settings = &settings.amqp;
    let connection = amqp::connect(amqp_settings, "bench")
        .await
        .context("could not connect to RabbitMQ")?;
    let counters = Arc::new(Counters::default());
    let collector = Collector::new(workload.ids.clone(), workload.count, counters.clone());
    let pacing = Pacing::from_rate(args.rate.map(f64::from));
    // Under a rate, the wait for results starts when the last order is due.
    let timeout = Duration::from_secs(args.timeout_secs) + pacing.due_at(workload.count);
    // Read on after the last final result: one gateway's results a moment more; with several, a
    // relay lease more, so that a row another gateway publishes again once a lease ran out is
    // seen in `publishes_per_result_row`.
    let settle = if args.gateways > 1 {
        Duration::from_millis(crate::amqp::relay::RELAY_LEASE_MS.unsigned_abs()) + Duration::from_secs(1)
    } else {
        Duration::from_secs(1)
    };
    let reader = collector::start(&connection, amqp_settings, collector, timeout, settle).await?;
    let reporter = Reporter::start(counters.clone(), workload.count);
    let published = match publisher::publish(&connection, amqp_settings, workload, pacing, counters).await {
        Ok(published) => published,
        Err(error) => {
            reader.task.abort();
            return Err(error);
        }
    };
    // Fired once every order has its final result; dropped if the reader ended without them.
    let _ = reader.all_final.await;
    Ok(Measured {
        published,
        reader: reader.task,
        reporter,
        connection,
    })
}

//! Deterministic demo data: AWS VPC flow log records (version 2 fields) as gzip NDJSON, one
//! file per hour, with heavy-tailed background traffic and three planted stories a SOC
//! analyst should find (see the README):
//!
//! 1. **Port scan** — `198.51.100.23` sweeps the 10.0.1.0/24 hosts across a thousand ports
//!    in 90 minutes, almost all `REJECT`.
//! 2. **Exfiltration** — `10.0.2.47` sends ~48 flows of hundreds of MB each to
//!    `203.0.113.77:443`, an address nobody else talks to.
//! 3. **SSH brute force** — `192.0.2.45` opens thousands of short SSH sessions to
//!    `10.0.1.22:22` within an hour.
//!
//! The same seed gives the same bytes: every file has its own ChaCha stream derived from
//! (seed, file index), so files can be generated in parallel.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use flate2::Compression;
use flate2::write::GzEncoder;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal, Zipf};

/// 2026-11-15T00:00:00Z: fixed, so the data is the same every time.
pub const DEFAULT_START: i64 = 1_794_700_800;
const HOUR: i64 = 3600;

pub const PORT_SCANNER: &str = "198.51.100.23";
pub const EXFIL_SOURCE: &str = "10.0.2.47";
pub const EXFIL_DESTINATION: &str = "203.0.113.77";
pub const BRUTE_FORCER: &str = "192.0.2.45";
pub const BRUTE_FORCE_TARGET: &str = "10.0.1.22";

#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Background records in total (planted stories come on top).
    pub records: u64,
    pub days: u32,
    pub seed: u64,
    pub start: i64,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            records: 1_000_000,
            days: 7,
            seed: 42,
            start: DEFAULT_START,
        }
    }
}

/// One flow record, VPC flow log v2 fields.
#[derive(Debug, Clone)]
struct Flow {
    src: String,
    dst: String,
    src_port: u16,
    dst_port: u16,
    protocol: u8,
    packets: u64,
    bytes: u64,
    start: i64,
    end: i64,
    accept: bool,
}

/// Writes the demo data set under `out`; returns the files written.
pub fn generate(out: &Path, config: &DemoConfig) -> Result<Vec<PathBuf>> {
    ensure!(config.days >= 1, "--days must be at least 1");
    ensure!(config.records >= 1, "--records must be at least 1");
    let hours = i64::from(config.days) * 24;
    let per_hour = config.records.div_ceil(hours as u64);
    let planted = planted_flows(config, hours);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let files: Vec<PathBuf> = (0..hours)
        .map(|h| hour_path(out, config.start + h * HOUR))
        .collect();

    std::thread::scope(|scope| -> Result<()> {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (files, planted) = (&files, &planted);
                scope.spawn(move || -> Result<()> {
                    for hour in (t as i64..hours).step_by(threads) {
                        let start = config.start + hour * HOUR;
                        let mut rng = ChaCha8Rng::seed_from_u64(
                            config.seed ^ (hour as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                        );
                        let mut flows: Vec<Flow> =
                            (0..per_hour).map(|_| background(&mut rng, start)).collect();
                        flows.extend(
                            planted
                                .iter()
                                .filter(|f| f.start >= start && f.start < start + HOUR)
                                .cloned(),
                        );
                        flows.sort_by_key(|f| f.start);
                        write_file(&files[hour as usize], &flows)?;
                    }
                    Ok(())
                })
            })
            .collect();
        for worker in workers {
            worker
                .join()
                .map_err(|_| anyhow::anyhow!("a generator thread panicked"))??;
        }
        Ok(())
    })?;
    Ok(files)
}

fn hour_path(out: &Path, ts: i64) -> PathBuf {
    let t =
        time::OffsetDateTime::from_unix_timestamp(ts).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    out.join("vpcflow")
        .join(format!("{:04}", t.year()))
        .join(format!("{:02}", u8::from(t.month())))
        .join(format!("{:02}", t.day()))
        .join(format!("{:02}.json.gz", t.hour()))
}

fn write_file(path: &Path, flows: &[Flow]) -> Result<()> {
    let mut text = String::with_capacity(flows.len() * 260);
    for f in flows {
        let _ = writeln!(
            text,
            r#"{{"version":2,"account_id":"123456789012","interface_id":"{}","srcaddr":"{}","dstaddr":"{}","srcport":{},"dstport":{},"protocol":{},"packets":{},"bytes":{},"start":{},"end":{},"action":"{}","log_status":"OK"}}"#,
            interface_id(if f.src.starts_with("10.") {
                &f.src
            } else {
                &f.dst
            }),
            f.src,
            f.dst,
            f.src_port,
            f.dst_port,
            f.protocol,
            f.packets,
            f.bytes,
            f.start,
            f.end,
            if f.accept { "ACCEPT" } else { "REJECT" },
        );
    }
    let dir = path.parent().context("output path has a parent")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // Write beside, then rename: a reader never sees half a file.
    let tmp = path.with_extension("gz.tmp");
    let mut gz = GzEncoder::new(Vec::with_capacity(text.len() / 6), Compression::default());
    gz.write_all(text.as_bytes())?;
    std::fs::write(&tmp, gz.finish()?).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

/// A stable, fake ENI id per internal host.
fn interface_id(ip: &str) -> String {
    let h = ip.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("eni-0{h:016x}")
}

fn internal_host(i: u64) -> String {
    format!("10.0.{}.{}", (i / 100) % 3, i % 100 + 1)
}

/// Public-looking addresses from a fixed set of first octets, spread by a mixing hash.
fn external_host(rank: u64) -> String {
    const FIRST: [u8; 24] = [
        23, 31, 34, 45, 52, 54, 62, 77, 81, 89, 91, 93, 104, 107, 139, 151, 159, 165, 178, 185,
        188, 195, 212, 217,
    ];
    let mut z = rank.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let b = z.to_le_bytes();
    format!(
        "{}.{}.{}.{}",
        FIRST[b[0] as usize % FIRST.len()],
        b[1],
        b[2],
        b[3].max(1)
    )
}

fn sample_zipf(rng: &mut ChaCha8Rng, n: f64, s: f64) -> u64 {
    // n ≥ 1 and s > 0 are constants below.
    Zipf::new(n, s).map_or(1, |z| z.sample(rng) as u64)
}

fn lognormal(rng: &mut ChaCha8Rng, mu: f64, sigma: f64) -> u64 {
    LogNormal::new(mu, sigma).map_or(1, |d| d.sample(rng).max(1.0) as u64)
}

fn ephemeral_port(rng: &mut ChaCha8Rng) -> u16 {
    rng.random_range(32768..=60999)
}

fn background(rng: &mut ChaCha8Rng, hour_start: i64) -> Flow {
    let start = hour_start + rng.random_range(0..HOUR);
    let kind: f64 = rng.random();
    let mut flow = if kind < 0.55 {
        // Outbound: internal clients to the internet; a few external services get most of it.
        let (dst_port, protocol) = match rng.random_range(0..100) {
            0..70 => (443, 6),
            70..85 => (80, 6),
            85..95 => (53, 17),
            _ => (123, 17),
        };
        Flow {
            src: internal_host(sample_zipf(rng, 300.0, 1.0) - 1),
            dst: external_host(sample_zipf(rng, 100_000.0, 1.1)),
            src_port: ephemeral_port(rng),
            dst_port,
            protocol,
            packets: 0,
            bytes: lognormal(rng, 8.0, 1.5),
            start,
            end: 0,
            accept: true,
        }
    } else if kind < 0.75 {
        // Inbound to the public web servers behind the load balancer.
        Flow {
            src: external_host(sample_zipf(rng, 100_000.0, 1.1)),
            dst: format!("10.0.1.{}", rng.random_range(10..=12)),
            src_port: ephemeral_port(rng),
            dst_port: 443,
            protocol: 6,
            packets: 0,
            bytes: lognormal(rng, 7.5, 1.2),
            start,
            end: 0,
            accept: true,
        }
    } else if kind < 0.90 {
        // East-west: file shares, databases, directory, SSH between internal hosts.
        const PORTS: [u16; 6] = [445, 3306, 5432, 22, 389, 88];
        Flow {
            src: internal_host(sample_zipf(rng, 300.0, 1.0) - 1),
            dst: internal_host(rng.random_range(0..300)),
            src_port: ephemeral_port(rng),
            dst_port: PORTS[rng.random_range(0..PORTS.len())],
            protocol: 6,
            packets: 0,
            bytes: lognormal(rng, 9.0, 1.8),
            start,
            end: 0,
            accept: true,
        }
    } else {
        // Internet background noise: many scanners, each seen a handful of times.
        const PORTS: [u16; 10] = [22, 23, 80, 443, 445, 3389, 8080, 1433, 5900, 6379];
        let dst_port = if rng.random_bool(0.7) {
            PORTS[rng.random_range(0..PORTS.len())]
        } else {
            rng.random_range(1..=65535)
        };
        Flow {
            src: external_host(1_000_000 + rng.random_range(0..20_000)),
            dst: internal_host(rng.random_range(0..300)),
            src_port: ephemeral_port(rng),
            dst_port,
            protocol: 6,
            packets: 0,
            bytes: rng.random_range(40..=60),
            start,
            end: 0,
            accept: rng.random_bool(0.05),
        }
    };
    flow.packets = flow.bytes / 900 + 1;
    flow.end = flow.start + rng.random_range(1..=60);
    flow
}

/// The planted stories, placed at fixed fractions of the time range so a short demo (one
/// day) still has all three.
fn planted_flows(config: &DemoConfig, hours: i64) -> Vec<Flow> {
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0x5105_7041);
    let at = |fraction: f64| config.start + ((hours as f64 * fraction) as i64) * HOUR;
    let mut flows = Vec::new();

    let scan_start = at(0.40);
    let scan_flows = (config.records / 50).max(2000);
    for i in 0..scan_flows {
        let dst_port = if i % 3 == 0 {
            rng.random_range(1025..=65535)
        } else {
            (i % 1024 + 1) as u16
        };
        let open = matches!(dst_port, 22 | 80 | 443);
        let start = scan_start + (i as i64 * 90 * 60) / scan_flows as i64;
        flows.push(Flow {
            src: PORT_SCANNER.into(),
            dst: format!("10.0.1.{}", rng.random_range(1..=100)),
            src_port: rng.random_range(40000..=65000),
            dst_port,
            protocol: 6,
            packets: 1,
            bytes: rng.random_range(40..=60),
            start,
            end: start + 1,
            accept: open,
        });
    }

    let exfil_start = at(0.65);
    for i in 0..48 {
        let start = exfil_start + i * 300;
        let bytes = lognormal(&mut rng, 20.0, 0.5); // e^20 ≈ 485 MB
        flows.push(Flow {
            src: EXFIL_SOURCE.into(),
            dst: EXFIL_DESTINATION.into(),
            src_port: ephemeral_port(&mut rng),
            dst_port: 443,
            protocol: 6,
            packets: bytes / 1400 + 1,
            bytes,
            start,
            end: start + 290,
            accept: true,
        });
    }

    let brute_start = at(0.85);
    let brute_flows = (config.records / 200).max(500);
    for i in 0..brute_flows {
        let start = brute_start + (i as i64 * 3600) / brute_flows as i64;
        let bytes = rng.random_range(3000..=6000);
        flows.push(Flow {
            src: BRUTE_FORCER.into(),
            dst: BRUTE_FORCE_TARGET.into(),
            src_port: 32768 + (i % 28000) as u16,
            dst_port: 22,
            protocol: 6,
            packets: rng.random_range(15..=30),
            bytes,
            start,
            end: start + rng.random_range(2..=8),
            accept: true,
        });
    }
    flows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(seed: u64) -> DemoConfig {
        DemoConfig {
            records: 4_800,
            days: 1,
            seed,
            start: DEFAULT_START,
        }
    }

    #[test]
    fn same_seed_same_bytes() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let fa = generate(a.path(), &small(7)).unwrap();
        let fb = generate(b.path(), &small(7)).unwrap();
        assert_eq!(fa.len(), 24);
        for (x, y) in fa.iter().zip(&fb) {
            assert_eq!(std::fs::read(x).unwrap(), std::fs::read(y).unwrap());
        }
        let c = tempfile::tempdir().unwrap();
        let fc = generate(c.path(), &small(8)).unwrap();
        assert_ne!(
            std::fs::read(&fa[0]).unwrap(),
            std::fs::read(&fc[0]).unwrap()
        );
    }

    #[test]
    fn files_are_named_by_hour() {
        let p = hour_path(Path::new("/d"), DEFAULT_START + 5 * HOUR);
        assert_eq!(p, Path::new("/d/vpcflow/2026/11/15/05.json.gz"));
    }
}

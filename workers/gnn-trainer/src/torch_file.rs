//! Files in PyTorch's own `torch.save` format, so that Python's `torch.load(path)` (with its
//! default `weights_only=True`) returns the model's state dict: `{name: tensor}`.
//!
//! tch's own savers write a libtorch archive (a TorchScript module), which `torch.load` only
//! opens with `weights_only=False` by handing it to `torch.jit.load`; this writer needs neither.
//! The format, as `torch.save` writes it: an uncompressed zip whose entries lie in one folder
//! (`archive/`): `data.pkl` (a protocol-2 pickle of a dict of
//! `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`, each
//! storage a persistent id `('storage', torch.FloatStorage, key, 'cpu', numel)`), the raw
//! little-endian storages as `data/<key>` (64-byte aligned), `byteorder`, `version`,
//! `.format_version` and `.storage_alignment`. Only contiguous f32 tensors are written.
//!
//! [`read_state_dict`] reads such a file back for a resume: the storages in key order, with
//! names and shapes taken from the pickle's strings.

use std::io::{Cursor, Read, Write};

use tch::{Device, Kind, Tensor};

const ARCHIVE: &str = "archive";
const ALIGNMENT: u16 = 64;

#[derive(Debug, thiserror::Error)]
pub enum TorchFileError {
    #[error("writing a torch file: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("writing a torch file: {0}")]
    Io(#[from] std::io::Error),
    #[error("tensor {name}: {reason}")]
    Tensor { name: String, reason: String },
    #[error("torch file: {0}")]
    Format(String),
}

/// Pickle opcodes used here (protocol 2).
mod op {
    pub const PROTO: u8 = 0x80;
    pub const EMPTY_DICT: u8 = b'}';
    pub const MARK: u8 = b'(';
    pub const BINUNICODE: u8 = b'X';
    pub const GLOBAL: u8 = b'c';
    pub const TUPLE: u8 = b't';
    pub const EMPTY_TUPLE: u8 = b')';
    pub const BINPERSID: u8 = b'Q';
    pub const BININT: u8 = b'J';
    pub const NEWFALSE: u8 = 0x89;
    pub const REDUCE: u8 = b'R';
    pub const SETITEMS: u8 = b'u';
    pub const STOP: u8 = b'.';
}

struct Pickle(Vec<u8>);

impl Pickle {
    fn string(&mut self, s: &str) {
        self.0.push(op::BINUNICODE);
        self.0.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.0.extend_from_slice(s.as_bytes());
    }

    fn global(&mut self, module: &str, name: &str) {
        self.0.push(op::GLOBAL);
        self.0
            .extend_from_slice(format!("{module}\n{name}\n").as_bytes());
    }

    fn int(&mut self, name: &str, v: i64) -> Result<(), TorchFileError> {
        let v = i32::try_from(v).map_err(|_| TorchFileError::Tensor {
            name: name.to_owned(),
            reason: format!("{v} is too large for this writer"),
        })?;
        self.0.push(op::BININT);
        self.0.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }

    fn int_tuple(&mut self, name: &str, vs: &[i64]) -> Result<(), TorchFileError> {
        if vs.is_empty() {
            self.0.push(op::EMPTY_TUPLE);
            return Ok(());
        }
        self.0.push(op::MARK);
        for v in vs {
            self.int(name, *v)?;
        }
        self.0.push(op::TUPLE);
        Ok(())
    }
}

fn strides(shape: &[i64]) -> Vec<i64> {
    let mut s = vec![1i64; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// The bytes of a `torch.save` file holding `tensors` as a dict, in the given order.
pub fn write_state_dict(tensors: &[(String, Tensor)]) -> Result<Vec<u8>, TorchFileError> {
    let mut p = Pickle(vec![op::PROTO, 2, op::EMPTY_DICT, op::MARK]);
    let mut storages = Vec::with_capacity(tensors.len());
    for (key, (name, t)) in tensors.iter().enumerate() {
        let t = t
            .detach()
            .to_device(Device::Cpu)
            .to_kind(Kind::Float)
            .contiguous();
        let shape = t.size();
        let numel: i64 = shape.iter().product();
        let values = Vec::<f32>::try_from(&t.view([-1])).map_err(|e| TorchFileError::Tensor {
            name: name.clone(),
            reason: e.to_string(),
        })?;
        p.string(name);
        p.global("torch._utils", "_rebuild_tensor_v2");
        p.0.push(op::MARK);
        p.0.push(op::MARK);
        p.string("storage");
        p.global("torch", "FloatStorage");
        p.string(&key.to_string());
        p.string("cpu");
        p.int(name, numel)?;
        p.0.push(op::TUPLE);
        p.0.push(op::BINPERSID);
        p.int(name, 0)?;
        p.int_tuple(name, &shape)?;
        p.int_tuple(name, &strides(&shape))?;
        p.0.push(op::NEWFALSE);
        p.global("collections", "OrderedDict");
        p.0.push(op::EMPTY_TUPLE);
        p.0.push(op::REDUCE);
        p.0.push(op::TUPLE);
        p.0.push(op::REDUCE);
        storages.push(values);
    }
    p.0.extend_from_slice(&[op::SETITEMS, op::STOP]);

    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored = zip::write::FileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default());
    let entry = |zip: &mut zip::ZipWriter<Cursor<Vec<u8>>>,
                 name: &str,
                 bytes: &[u8]|
     -> Result<(), TorchFileError> {
        zip.start_file_aligned(format!("{ARCHIVE}/{name}"), stored, ALIGNMENT)?;
        zip.write_all(bytes)?;
        Ok(())
    };
    entry(&mut zip, "data.pkl", &p.0)?;
    entry(&mut zip, ".format_version", b"1")?;
    entry(
        &mut zip,
        ".storage_alignment",
        ALIGNMENT.to_string().as_bytes(),
    )?;
    entry(&mut zip, "byteorder", b"little")?;
    for (key, values) in storages.iter().enumerate() {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        entry(&mut zip, &format!("data/{key}"), &bytes)?;
    }
    entry(&mut zip, "version", b"3\n")?;
    Ok(zip.finish()?.into_inner())
}

/// Read a file of [`write_state_dict`] back: `(name, tensor)` in the written order, on the CPU.
/// The pickle is read only as far as this writer writes it.
pub fn read_state_dict(bytes: &[u8]) -> Result<Vec<(String, Tensor)>, TorchFileError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))?;
    let mut pkl = Vec::new();
    zip.by_name(&format!("{ARCHIVE}/data.pkl"))?
        .read_to_end(&mut pkl)?;
    let entries = parse_entries(&pkl)?;
    let mut out = Vec::with_capacity(entries.len());
    for (key, (name, shape)) in entries.into_iter().enumerate() {
        let mut raw = Vec::new();
        zip.by_name(&format!("{ARCHIVE}/data/{key}"))?
            .read_to_end(&mut raw)?;
        let numel: i64 = shape.iter().product();
        if raw.len() as i64 != numel * 4 {
            return Err(TorchFileError::Format(format!(
                "storage {key} of {name} has {} bytes, its shape {shape:?} needs {}",
                raw.len(),
                numel * 4
            )));
        }
        let values: Vec<f32> = raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        out.push((name, Tensor::from_slice(&values).view(shape.as_slice())));
    }
    Ok(out)
}

/// Walk the pickle as this writer lays it out: per entry its name, then (after the storage
/// tuple and offset) the size tuple.
fn parse_entries(pkl: &[u8]) -> Result<Vec<(String, Vec<i64>)>, TorchFileError> {
    let bad = |what: &str| TorchFileError::Format(format!("data.pkl: {what}"));
    let mut i = 4; // PROTO 2, EMPTY_DICT, MARK
    let mut out = Vec::new();
    let take = |i: &mut usize, n: usize| -> Result<&[u8], TorchFileError> {
        let s = pkl.get(*i..*i + n).ok_or_else(|| bad("truncated"))?;
        *i += n;
        Ok(s)
    };
    let string = |i: &mut usize| -> Result<String, TorchFileError> {
        if take(i, 1)? != [op::BINUNICODE] {
            return Err(bad("expected a string"));
        }
        let len = u32::from_le_bytes(take(i, 4)?.try_into().map_err(|_| bad("length"))?);
        String::from_utf8(take(i, len as usize)?.to_vec()).map_err(|_| bad("utf-8"))
    };
    let global = |i: &mut usize| -> Result<(), TorchFileError> {
        if take(i, 1)? != [op::GLOBAL] {
            return Err(bad("expected a global"));
        }
        for _ in 0..2 {
            while take(i, 1)? != b"\n" {}
        }
        Ok(())
    };
    let int = |i: &mut usize| -> Result<i64, TorchFileError> {
        if take(i, 1)? != [op::BININT] {
            return Err(bad("expected an int"));
        }
        Ok(i64::from(i32::from_le_bytes(
            take(i, 4)?.try_into().map_err(|_| bad("int"))?,
        )))
    };
    let ints = |i: &mut usize| -> Result<Vec<i64>, TorchFileError> {
        match take(i, 1)? {
            [op::EMPTY_TUPLE] => Ok(Vec::new()),
            [op::MARK] => {
                let mut v = Vec::new();
                while pkl.get(*i) == Some(&op::BININT) {
                    v.push(int(i)?);
                }
                if take(i, 1)? != [op::TUPLE] {
                    return Err(bad("expected the end of a tuple"));
                }
                Ok(v)
            }
            _ => Err(bad("expected a tuple")),
        }
    };
    while pkl.get(i) == Some(&op::BINUNICODE) {
        let name = string(&mut i)?;
        global(&mut i)?;
        take(&mut i, 2)?; // MARK MARK
        string(&mut i)?; // 'storage'
        global(&mut i)?;
        string(&mut i)?; // key
        string(&mut i)?; // location
        int(&mut i)?; // numel
        take(&mut i, 2)?; // TUPLE BINPERSID
        int(&mut i)?; // offset
        let shape = ints(&mut i)?;
        ints(&mut i)?; // stride
        take(&mut i, 1)?; // NEWFALSE
        global(&mut i)?;
        take(&mut i, 4)?; // EMPTY_TUPLE REDUCE TUPLE REDUCE
        out.push((name, shape));
    }
    if pkl.get(i..) != Some(&[op::SETITEMS, op::STOP][..]) {
        return Err(bad("unexpected content after the entries"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_dicts_round_trip() {
        let tensors = vec![
            (
                "conv1.weight".to_owned(),
                Tensor::from_slice(&[1f32, 2., 3., 4., 5., 6.]).view([2, 3]),
            ),
            ("conv1.bias".to_owned(), Tensor::from_slice(&[0.5f32, -0.5])),
            ("scalar".to_owned(), Tensor::from(7f32)),
        ];
        let bytes = write_state_dict(&tensors).unwrap();
        let back = read_state_dict(&bytes).unwrap();
        assert_eq!(back.len(), 3);
        for ((n1, t1), (n2, t2)) in tensors.iter().zip(&back) {
            assert_eq!(n1, n2);
            assert_eq!(t1.size(), t2.size());
            assert!(t1.equal(t2), "{n1}");
        }
        assert!(read_state_dict(b"not a zip").is_err());
    }
}

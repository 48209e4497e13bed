// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {HarmonyStaking} from "./HarmonyStaking.sol";

/// @title HarmonySettlement
/// @notice Anchors the Harmony DAG on this chain.
/// - Genesis lock: the AGC behind the DAG's genesis allocations is moved into escrow by the deployer in the
///   constructor (no `Deposited` event: the genesis already credits it on the DAG). Every node checks that
///   (genesisId, genesisLocked) match its genesis file before it bridges (docs/chain.md "Solvency").
/// - Deposits: AGC sent here is held in escrow and a `Deposited` event tells every validator to credit the DAG
///   account; each validator checks the credit against its own view of this chain.
/// - Checkpoints: validators sign an EIP-712 digest of (epoch, dagRoot, stateRoot, withdrawalsRoot); a checkpoint
///   is accepted once, in epoch order, with signatures of at least 2/3 of bonded stake.
/// - Withdrawals: a leaf (account, amount, nonce) of a checkpoint's withdrawals tree (OpenZeppelin
///   StandardMerkleTree encoding) is paid once, from escrow. Solvency: the escrow backing the DAG is
///   genesisLocked + totalDeposited - totalWithdrawn; no withdrawal is paid beyond it (so never out of the fee
///   pool), whatever the checkpoint says.
/// - Fees: the fee pool (DAG fees withdrawn to this contract's own address, slashed stake, direct top-ups) is
///   distributed to stakers through the staking contract.
/// - Slashing: two different checkpoints signed by one validator for one epoch are evidence of equivocation.
contract HarmonySettlement is EIP712, ReentrancyGuard {
    using SafeERC20 for IERC20;

    bytes32 public constant CHECKPOINT_TYPEHASH =
        keccak256("Checkpoint(uint64 epoch,bytes32 dagRoot,bytes32 stateRoot,bytes32 withdrawalsRoot)");
    /// @dev Share of a validator's stake (bonded then unbonding) taken for equivocation, in basis points.
    uint256 public constant EQUIVOCATION_SLASH_BPS = 1_000;

    /// @dev The last three fields share one storage slot (AGC's cap, 1e28 base units, fits in uint96).
    struct Checkpoint {
        bytes32 dagRoot;
        bytes32 stateRoot;
        bytes32 withdrawalsRoot;
        uint64 submittedAt;
        uint96 signedStake;
        uint96 totalStake;
    }

    IERC20 public immutable token;
    HarmonyStaking public immutable staking;
    /// @notice The DAG genesis this escrow backs (its genesis vertex id) and the AGC locked for its allocations.
    bytes32 public immutable genesisId;
    uint256 public immutable genesisLocked;

    uint64 public lastEpoch;
    mapping(uint64 epoch => Checkpoint) private _checkpoints;
    mapping(bytes32 leaf => bool) public claimed;
    mapping(address signer => mapping(uint64 epoch => bool)) public equivocationSlashed;

    uint256 public depositCount;
    uint256 public totalDeposited;
    uint256 public totalWithdrawn;
    uint256 public feePool;

    event Deposited(
        bytes32 indexed dagAccount, address indexed from, uint256 amount, uint256 indexed depositId
    );
    event GenesisLocked(bytes32 indexed genesisId, address indexed from, uint256 amount);
    event CheckpointSubmitted(
        uint64 indexed epoch,
        bytes32 dagRoot,
        bytes32 stateRoot,
        bytes32 withdrawalsRoot,
        uint256 signedStake,
        uint256 totalStake
    );
    event Withdrawn(uint64 indexed epoch, address indexed account, uint256 amount, uint256 indexed nonce, bytes32 leaf);
    event FeesAdded(address indexed from, uint256 amount);
    event FeesDistributed(uint256 amount);
    event EquivocationSlashed(address indexed signer, address indexed operator, uint64 indexed epoch, uint256 amount);

    error ZeroAmount();
    error ZeroAccount();
    error InvalidDagAccount();
    error StakingMismatch();
    error EpochOutOfOrder(uint64 expected, uint64 got);
    error NoStake();
    error SignersNotSorted();
    error BadSignature(uint256 index);
    error UnknownSigner(address signer);
    error QuorumNotReached(uint256 signedStake, uint256 totalStake);
    error UnknownEpoch(uint64 epoch);
    error AlreadyClaimed(bytes32 leaf);
    error InvalidProof();
    error EscrowExceeded(uint256 requested, uint256 available);
    error NotEquivocation();
    error AlreadySlashed();

    /// @param genesisId_ the DAG's genesis vertex id (bytes32(0) only with genesisLocked_ = 0)
    /// @param genesisLocked_ the sum of the genesis allocations, pulled from the deployer (who approved this
    /// contract's precomputed address): done here, so the contract never exists without its backing
    constructor(IERC20 token_, HarmonyStaking staking_, bytes32 genesisId_, uint256 genesisLocked_)
        EIP712("HarmonySettlement", "1")
    {
        if (address(staking_.token()) != address(token_) || staking_.settlement() != address(this)) {
            revert StakingMismatch();
        }
        token = token_;
        staking = staking_;
        genesisId = genesisId_;
        genesisLocked = genesisLocked_;
        if (genesisLocked_ > 0) {
            token_.safeTransferFrom(msg.sender, address(this), genesisLocked_);
        }
        emit GenesisLocked(genesisId_, msg.sender, genesisLocked_);
    }

    // ---------------------------------------------------------------- deposits

    /// @notice Locks `amount` AGC in escrow for the DAG account `dagAccount`: the 20-byte DAG address right-aligned in
    /// 32 bytes (as ABI-encoded addresses are). Other shapes revert, so no deposit can land on an account that
    /// cannot exist on the DAG.
    function deposit(bytes32 dagAccount, uint256 amount) external nonReentrant returns (uint256 depositId) {
        return _deposit(dagAccount, amount);
    }

    /// @notice `deposit` with an EIP-2612 permit instead of a prior approval (one transaction).
    function depositWithPermit(
        bytes32 dagAccount,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external nonReentrant returns (uint256 depositId) {
        // A front-run permit makes this call fail harmlessly; the allowance check below is what matters.
        try IERC20Permit(address(token)).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
        return _deposit(dagAccount, amount);
    }

    function _deposit(bytes32 dagAccount, uint256 amount) private returns (uint256 depositId) {
        if (dagAccount == bytes32(0)) revert ZeroAccount();
        if (uint256(dagAccount) >> 160 != 0) revert InvalidDagAccount();
        if (amount == 0) revert ZeroAmount();
        depositId = depositCount++;
        totalDeposited += amount;
        token.safeTransferFrom(msg.sender, address(this), amount);
        emit Deposited(dagAccount, msg.sender, amount, depositId);
    }

    // ---------------------------------------------------------------- checkpoints

    /// @notice The EIP-712 digest validators sign for a checkpoint (bound to this chain id and this contract).
    function checkpointDigest(uint64 epoch, bytes32 dagRoot, bytes32 stateRoot, bytes32 withdrawalsRoot)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(CHECKPOINT_TYPEHASH, epoch, dagRoot, stateRoot, withdrawalsRoot)));
    }

    /// @notice Accepts the checkpoint of `epoch` (= lastEpoch + 1) signed by validators holding at least 2/3 of
    /// bonded stake. `signatures` are 65-byte ECDSA signatures ordered by strictly increasing signer address
    /// (which rules out counting one signer twice).
    function submitCheckpoint(
        uint64 epoch,
        bytes32 dagRoot,
        bytes32 stateRoot,
        bytes32 withdrawalsRoot,
        bytes[] calldata signatures
    ) external {
        if (epoch != lastEpoch + 1) revert EpochOutOfOrder(lastEpoch + 1, epoch);
        uint256 total = staking.totalStake();
        if (total == 0) revert NoStake();
        bytes32 digest = checkpointDigest(epoch, dagRoot, stateRoot, withdrawalsRoot);
        address[] memory signers = new address[](signatures.length);
        address previous;
        for (uint256 i = 0; i < signatures.length; i++) {
            (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signatures[i]);
            if (err != ECDSA.RecoverError.NoError) revert BadSignature(i);
            if (signer <= previous) revert SignersNotSorted();
            previous = signer;
            signers[i] = signer;
        }
        uint256[] memory weights = staking.weightsOfSigners(signers);
        uint256 signed;
        for (uint256 i = 0; i < weights.length; i++) {
            if (weights[i] == 0) revert UnknownSigner(signers[i]);
            signed += weights[i];
        }
        if (signed * 3 < total * 2) revert QuorumNotReached(signed, total);
        lastEpoch = epoch;
        _checkpoints[epoch] = Checkpoint(
            dagRoot, stateRoot, withdrawalsRoot, uint64(block.timestamp), SafeCast.toUint96(signed), SafeCast.toUint96(total)
        );
        emit CheckpointSubmitted(epoch, dagRoot, stateRoot, withdrawalsRoot, signed, total);
    }

    function getCheckpoint(uint64 epoch) external view returns (Checkpoint memory) {
        if (epoch == 0 || epoch > lastEpoch) revert UnknownEpoch(epoch);
        return _checkpoints[epoch];
    }

    // ---------------------------------------------------------------- withdrawals

    /// @notice The leaf of a withdrawal: OpenZeppelin StandardMerkleTree of ['address','uint256','uint256'].
    function withdrawalLeaf(address account, uint256 amount, uint256 nonce) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(account, amount, nonce))));
    }

    /// @notice Pays the withdrawal (account, amount, nonce) proven against the withdrawals root of `epoch`. Each
    /// leaf is paid once across all epochs. Anyone may submit it; the tokens go to `account`. A leaf whose account
    /// is this contract moves DAG fees into the fee pool.
    function withdraw(uint64 epoch, address account, uint256 amount, uint256 nonce, bytes32[] calldata proof)
        external
        nonReentrant
    {
        if (epoch == 0 || epoch > lastEpoch) revert UnknownEpoch(epoch);
        if (account == address(0)) revert ZeroAccount();
        if (amount == 0) revert ZeroAmount();
        bytes32 leaf = withdrawalLeaf(account, amount, nonce);
        if (claimed[leaf]) revert AlreadyClaimed(leaf);
        if (!MerkleProof.verifyCalldata(proof, _checkpoints[epoch].withdrawalsRoot, leaf)) revert InvalidProof();
        uint256 available = backedEscrow();
        if (amount > available) revert EscrowExceeded(amount, available);
        claimed[leaf] = true;
        totalWithdrawn += amount;
        emit Withdrawn(epoch, account, amount, nonce, leaf);
        if (account == address(this)) {
            feePool += amount;
            emit FeesAdded(address(this), amount);
        } else {
            token.safeTransfer(account, amount);
        }
    }

    /// @notice The AGC held for the DAG: what was locked at genesis and deposited, less what was withdrawn. The fee
    /// pool is held apart from it, so withdrawals can never be paid from the stakers' fees.
    function backedEscrow() public view returns (uint256) {
        return genesisLocked + totalDeposited - totalWithdrawn;
    }

    // ---------------------------------------------------------------- fees

    /// @notice Adds `amount` AGC to the fee pool.
    function addFees(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        feePool += amount;
        token.safeTransferFrom(msg.sender, address(this), amount);
        emit FeesAdded(msg.sender, amount);
    }

    /// @notice Sends the whole fee pool to the stakers (pro rata to bonded stake). Anyone may call it.
    function distributeFees() external nonReentrant {
        uint256 amount = feePool;
        if (amount == 0) revert ZeroAmount();
        feePool = 0;
        token.forceApprove(address(staking), amount);
        staking.notifyReward(amount);
        emit FeesDistributed(amount);
    }

    // ---------------------------------------------------------------- slashing

    /// @notice Slashes a validator that signed two different checkpoints for one epoch. Anyone may submit the
    /// evidence; the slashed stake goes to the fee pool. Each (signer, epoch) is slashed at most once.
    function slashEquivocation(
        uint64 epoch,
        bytes32[3] calldata rootsA,
        bytes calldata signatureA,
        bytes32[3] calldata rootsB,
        bytes calldata signatureB
    ) external nonReentrant {
        (address signer, bytes32 digestA) = _recoverCheckpointSigner(epoch, rootsA, signatureA, 0);
        (address signerB, bytes32 digestB) = _recoverCheckpointSigner(epoch, rootsB, signatureB, 1);
        if (digestA == digestB || signer != signerB) revert NotEquivocation();
        _slashEquivocator(epoch, signer, keccak256(abi.encode(epoch, digestA, digestB, signer)));
    }

    function _slashEquivocator(uint64 epoch, address signer, bytes32 evidenceHash) private {
        if (equivocationSlashed[signer][epoch]) revert AlreadySlashed();
        address operator = staking.operatorOfSigner(signer);
        if (operator == address(0)) revert UnknownSigner(signer);
        equivocationSlashed[signer][epoch] = true;
        uint256 slashed = staking.slash(operator, _equivocationPenalty(operator), evidenceHash);
        feePool += slashed;
        emit EquivocationSlashed(signer, operator, epoch, slashed);
    }

    function _recoverCheckpointSigner(uint64 epoch, bytes32[3] calldata roots, bytes calldata signature, uint256 index)
        private
        view
        returns (address signer, bytes32 digest)
    {
        digest = checkpointDigest(epoch, roots[0], roots[1], roots[2]);
        ECDSA.RecoverError err;
        (signer, err,) = ECDSA.tryRecover(digest, signature);
        if (err != ECDSA.RecoverError.NoError) revert BadSignature(index);
    }

    function _equivocationPenalty(address operator) private view returns (uint256) {
        HarmonyStaking.Validator memory v = staking.getValidator(operator);
        return ((v.stake + v.unbonding) * EQUIVOCATION_SLASH_BPS) / 10_000;
    }
}

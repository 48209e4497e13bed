// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

/// @title HarmonyStaking
/// @notice Validators stake AGC and bind an EVM signing key to their node's ML-DSA identity (the sha256 of the
/// ML-DSA-65 public key). The binding is proven twice: the signing key's EIP-712 signature (checked here) and an
/// ML-DSA-65 signature by the ledger key over (chain id, this contract, operator, signer), carried in the register
/// call and emitted in `ValidatorBound`: the EVM cannot verify ML-DSA at a reasonable cost, so every node verifies it
/// against its genesis validator set and ignores checkpoint signatures of validators it cannot verify.
/// A deployment may fix its genesis validators (identity => signer) at construction: then only those identities
/// register, each only with its own signer, so EVM stake alone cannot buy checkpoint weight (docs/chain.md). Stake is the weight of a validator's checkpoint signature. Unbonding stake stays
/// slashable until it is withdrawn. Only the settlement contract can slash, and it does so only with evidence it
/// checked itself. Rewards the settlement contract sends in are shared pro rata to bonded stake.
/// @dev The settlement address is fixed at construction (the deployer precomputes it), so no admin key exists.
contract HarmonyStaking is EIP712, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @dev Bounds the validator set so the set can be enumerated off-chain and quorum checks stay bounded.
    uint256 public constant MAX_VALIDATORS = 256;
    uint256 private constant REWARD_PRECISION = 1e36;
    bytes32 public constant REGISTER_TYPEHASH = keccak256("Register(address operator,bytes32 identity)");
    /// @dev ML-DSA-65 (FIPS 204) sizes: the binding is publicKey ‖ signature.
    uint256 public constant MLDSA_PUBLIC_KEY_BYTES = 1952;
    uint256 public constant MLDSA_SIGNATURE_BYTES = 3309;

    struct Validator {
        address signer;
        bytes32 identity;
        uint256 stake;
        uint256 unbonding;
        uint64 unbondingEnd;
        uint256 rewardDebt;
        uint256 pendingReward;
    }

    IERC20 public immutable token;
    address public immutable settlement;
    uint256 public immutable minStake;
    uint64 public immutable unbondingPeriod;

    mapping(address operator => Validator) private _validators;
    mapping(address signer => address operator) public operatorOfSigner;
    /// @dev Mirror of each validator's bonded stake keyed by its signer: the settlement contract reads one slot per
    /// checkpoint signature instead of two. Written wherever `stake` changes.
    mapping(address signer => uint256) private _signerStake;
    mapping(bytes32 identity => address operator) public operatorOfIdentity;
    address[] private _operators;
    mapping(address operator => uint256 indexPlusOne) private _operatorIndex;

    /// @notice Signer fixed at construction for each genesis identity (zero: not a genesis identity).
    mapping(bytes32 identity => address signer) public genesisSignerOf;
    /// @notice Number of genesis identities fixed at construction; 0 means open registration (no genesis list).
    uint256 public immutable genesisValidatorCount;

    uint256 public totalStake;
    uint256 public totalUnbonding;
    uint256 public accRewardPerStake;
    uint256 public undistributedReward;

    event ValidatorRegistered(address indexed operator, address indexed signer, bytes32 indexed identity);
    /// @notice The ML-DSA binding of a registration: publicKey ‖ signature (ML-DSA-65). Nodes verify it off chain.
    event ValidatorBound(address indexed operator, bytes32 indexed identity, bytes mldsaBinding);
    event ValidatorRemoved(address indexed operator);
    event Staked(address indexed operator, uint256 amount, uint256 newStake);
    event Unbonding(address indexed operator, uint256 amount, uint64 unbondingEnd);
    event UnbondedWithdrawn(address indexed operator, uint256 amount);
    event Slashed(address indexed operator, uint256 amount, bytes32 indexed evidenceHash);
    event RewardNotified(uint256 amount);
    event RewardClaimed(address indexed operator, uint256 amount);

    error ZeroAddress();
    error ZeroAmount();
    error NotSettlement();
    error AlreadyRegistered();
    error NotRegistered();
    error SignerInUse();
    error IdentityInUse();
    error ZeroIdentity();
    error BadSignerProof();
    error BelowMinimumStake(uint256 stake, uint256 minimum);
    error InsufficientStake(uint256 stake, uint256 requested);
    error StillUnbonding(uint64 unbondingEnd);
    error NothingToWithdraw();
    error ValidatorSetFull();
    error BadBinding();
    error NotGenesisValidator(bytes32 identity);
    error NotGenesisSigner(bytes32 identity, address signer);
    error BadGenesis();

    modifier onlySettlement() {
        if (msg.sender != settlement) revert NotSettlement();
        _;
    }

    /// @param genesisIdentities_ the ledger's genesis validators (sha256 of their ML-DSA-65 public keys); empty for
    /// open registration, where only the nodes' own ML-DSA check keeps unbound stake out of their checkpoints
    /// @param genesisSigners_ the EVM signing key each genesis identity registers with (same order)
    constructor(
        IERC20 token_,
        address settlement_,
        uint256 minStake_,
        uint64 unbondingPeriod_,
        bytes32[] memory genesisIdentities_,
        address[] memory genesisSigners_
    ) EIP712("HarmonyStaking", "1") {
        if (address(token_) == address(0) || settlement_ == address(0)) revert ZeroAddress();
        if (minStake_ == 0) revert ZeroAmount();
        if (genesisIdentities_.length != genesisSigners_.length || genesisIdentities_.length > MAX_VALIDATORS) {
            revert BadGenesis();
        }
        for (uint256 i = 0; i < genesisIdentities_.length; i++) {
            bytes32 identity = genesisIdentities_[i];
            address signer = genesisSigners_[i];
            if (identity == bytes32(0) || signer == address(0) || genesisSignerOf[identity] != address(0)) revert BadGenesis();
            genesisSignerOf[identity] = signer;
        }
        genesisValidatorCount = genesisIdentities_.length;
        token = token_;
        settlement = settlement_;
        minStake = minStake_;
        unbondingPeriod = unbondingPeriod_;
    }

    // ---------------------------------------------------------------- registry

    /// @notice Registers msg.sender as a validator operator with a first stake of at least `minStake`.
    /// @param signer the EVM key that signs checkpoints for this validator
    /// @param identity the hash of the node's ML-DSA-65 public key
    /// @param signerProof the signer's EIP-712 signature of Register(operator, identity): proves the operator
    /// controls the signing key, so nobody can bind another validator's key
    /// @param mldsaBinding the ML-DSA-65 public key (sha256 must equal `identity`) followed by its signature over
    /// the binding message (docs/chain.md); checked by the nodes, not here
    function register(
        address signer,
        bytes32 identity,
        bytes calldata signerProof,
        bytes calldata mldsaBinding,
        uint256 amount
    ) external nonReentrant {
        address operator = msg.sender;
        if (signer == address(0)) revert ZeroAddress();
        if (identity == bytes32(0)) revert ZeroIdentity();
        if (_operatorIndex[operator] != 0) revert AlreadyRegistered();
        if (operatorOfSigner[signer] != address(0)) revert SignerInUse();
        if (operatorOfIdentity[identity] != address(0)) revert IdentityInUse();
        if (_operators.length >= MAX_VALIDATORS) revert ValidatorSetFull();
        if (amount < minStake) revert BelowMinimumStake(amount, minStake);
        _checkGenesis(identity, signer);
        _checkSignerProof(operator, signer, identity, signerProof);
        _checkBinding(identity, mldsaBinding);

        Validator storage v = _validators[operator];
        v.signer = signer;
        v.identity = identity;
        v.rewardDebt = 0;
        v.pendingReward = 0;
        v.stake = 0;
        v.unbonding = 0;
        v.unbondingEnd = 0;
        operatorOfSigner[signer] = operator;
        operatorOfIdentity[identity] = operator;
        _operators.push(operator);
        _operatorIndex[operator] = _operators.length;
        emit ValidatorRegistered(operator, signer, identity);
        emit ValidatorBound(operator, identity, mldsaBinding);
        _stake(operator, amount);
    }

    /// @notice Adds stake to msg.sender's validator; the resulting stake must be at least `minStake`.
    function stake(uint256 amount) external nonReentrant {
        if (_operatorIndex[msg.sender] == 0) revert NotRegistered();
        if (amount == 0) revert ZeroAmount();
        uint256 newStake = _validators[msg.sender].stake + amount;
        if (newStake < minStake) revert BelowMinimumStake(newStake, minStake);
        _stake(msg.sender, amount);
    }

    /// @notice Starts unbonding `amount`; it stops counting as weight now and can be withdrawn after the
    /// unbonding period. A further unbond restarts the period for the whole unbonding amount.
    /// The remaining stake must be zero or at least `minStake`.
    function unbond(uint256 amount) external nonReentrant {
        Validator storage v = _validators[msg.sender];
        if (_operatorIndex[msg.sender] == 0) revert NotRegistered();
        if (amount == 0) revert ZeroAmount();
        if (amount > v.stake) revert InsufficientStake(v.stake, amount);
        uint256 remaining = v.stake - amount;
        if (remaining != 0 && remaining < minStake) revert BelowMinimumStake(remaining, minStake);
        _settleReward(v);
        v.stake = remaining;
        _signerStake[v.signer] = remaining;
        v.rewardDebt = _rewardDebt(remaining);
        totalStake -= amount;
        v.unbonding += amount;
        totalUnbonding += amount;
        v.unbondingEnd = uint64(block.timestamp) + unbondingPeriod;
        emit Unbonding(msg.sender, amount, v.unbondingEnd);
    }

    /// @notice Withdraws unbonded stake once the unbonding period is over. A validator left with no stake, no
    /// unbonding amount and no reward is removed from the set (its signer and identity become free again).
    function withdrawUnbonded() external nonReentrant {
        Validator storage v = _validators[msg.sender];
        if (_operatorIndex[msg.sender] == 0) revert NotRegistered();
        uint256 amount = v.unbonding;
        if (amount == 0) revert NothingToWithdraw();
        if (block.timestamp < v.unbondingEnd) revert StillUnbonding(v.unbondingEnd);
        v.unbonding = 0;
        v.unbondingEnd = 0;
        totalUnbonding -= amount;
        emit UnbondedWithdrawn(msg.sender, amount);
        _maybeRemove(msg.sender);
        token.safeTransfer(msg.sender, amount);
    }

    // ---------------------------------------------------------------- rewards

    /// @notice Called by the settlement contract after approving `amount`: shares it pro rata to bonded stake.
    /// With no stake bonded the amount waits for the next notification.
    function notifyReward(uint256 amount) external onlySettlement nonReentrant {
        token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 pending = undistributedReward + amount;
        if (totalStake == 0) {
            undistributedReward = pending;
        } else {
            undistributedReward = 0;
            accRewardPerStake += (pending * REWARD_PRECISION) / totalStake;
        }
        emit RewardNotified(amount);
    }

    /// @notice Pays msg.sender's accumulated reward.
    function claimRewards() external nonReentrant {
        Validator storage v = _validators[msg.sender];
        if (_operatorIndex[msg.sender] == 0) revert NotRegistered();
        _settleReward(v);
        v.rewardDebt = _rewardDebt(v.stake);
        uint256 amount = v.pendingReward;
        if (amount == 0) revert NothingToWithdraw();
        v.pendingReward = 0;
        emit RewardClaimed(msg.sender, amount);
        _maybeRemove(msg.sender);
        token.safeTransfer(msg.sender, amount);
    }

    /// @notice Reward an operator could claim now.
    function pendingRewards(address operator) external view returns (uint256) {
        Validator storage v = _validators[operator];
        return v.pendingReward + (v.stake * accRewardPerStake) / REWARD_PRECISION - v.rewardDebt;
    }

    // ---------------------------------------------------------------- slashing

    /// @notice Takes up to `amount` from the operator's bonded stake, then from its unbonding stake, and sends it
    /// to the settlement contract. Only the settlement contract calls this, after checking `evidenceHash`'s evidence.
    /// @return slashed the amount actually taken
    function slash(address operator, uint256 amount, bytes32 evidenceHash)
        external
        onlySettlement
        nonReentrant
        returns (uint256 slashed)
    {
        if (_operatorIndex[operator] == 0) revert NotRegistered();
        Validator storage v = _validators[operator];
        _settleReward(v);
        uint256 fromStake = amount <= v.stake ? amount : v.stake;
        v.stake -= fromStake;
        _signerStake[v.signer] = v.stake;
        totalStake -= fromStake;
        v.rewardDebt = _rewardDebt(v.stake);
        uint256 rest = amount - fromStake;
        uint256 fromUnbonding = rest <= v.unbonding ? rest : v.unbonding;
        v.unbonding -= fromUnbonding;
        totalUnbonding -= fromUnbonding;
        slashed = fromStake + fromUnbonding;
        emit Slashed(operator, slashed, evidenceHash);
        if (slashed != 0) token.safeTransfer(settlement, slashed);
    }

    // ---------------------------------------------------------------- views

    function validatorCount() external view returns (uint256) {
        return _operators.length;
    }

    function operatorAt(uint256 index) external view returns (address) {
        return _operators[index];
    }

    function getValidator(address operator) external view returns (Validator memory) {
        return _validators[operator];
    }

    function isValidator(address operator) external view returns (bool) {
        return _operatorIndex[operator] != 0;
    }

    /// @notice Bonded stake of the operator whose signing key is `signer` (0 when unknown).
    function weightOfSigner(address signer) external view returns (uint256) {
        return _signerStake[signer];
    }

    /// @notice Bonded stake per signing key, in one call (the settlement contract's quorum check).
    function weightsOfSigners(address[] calldata signers) external view returns (uint256[] memory weights) {
        weights = new uint256[](signers.length);
        for (uint256 i = 0; i < signers.length; i++) {
            weights[i] = _signerStake[signers[i]];
        }
    }

    /// @notice The EIP-712 digest a signer signs to prove its binding to (operator, identity).
    function registerDigest(address operator, bytes32 identity) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(REGISTER_TYPEHASH, operator, identity)));
    }

    // ---------------------------------------------------------------- internals

    function _checkGenesis(bytes32 identity, address signer) private view {
        if (genesisValidatorCount == 0) return;
        address fixedSigner = genesisSignerOf[identity];
        if (fixedSigner == address(0)) revert NotGenesisValidator(identity);
        if (fixedSigner != signer) revert NotGenesisSigner(identity, signer);
    }

    function _checkSignerProof(address operator, address signer, bytes32 identity, bytes calldata signerProof)
        private
        view
    {
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(REGISTER_TYPEHASH, operator, identity)));
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signerProof);
        if (err != ECDSA.RecoverError.NoError || recovered != signer) revert BadSignerProof();
    }

    /// @dev Only the shape and the key's hash: the ML-DSA signature itself is verified by every node.
    function _checkBinding(bytes32 identity, bytes calldata mldsaBinding) private pure {
        if (mldsaBinding.length != MLDSA_PUBLIC_KEY_BYTES + MLDSA_SIGNATURE_BYTES) revert BadBinding();
        if (sha256(mldsaBinding[:MLDSA_PUBLIC_KEY_BYTES]) != identity) revert BadBinding();
    }

    function _stake(address operator, uint256 amount) private {
        Validator storage v = _validators[operator];
        _settleReward(v);
        v.stake += amount;
        _signerStake[v.signer] = v.stake;
        totalStake += amount;
        v.rewardDebt = _rewardDebt(v.stake);
        emit Staked(operator, amount, v.stake);
        token.safeTransferFrom(operator, address(this), amount);
    }

    function _settleReward(Validator storage v) private {
        uint256 accrued = (v.stake * accRewardPerStake) / REWARD_PRECISION;
        v.pendingReward += accrued - v.rewardDebt;
        v.rewardDebt = accrued;
    }

    function _rewardDebt(uint256 stakeAmount) private view returns (uint256) {
        return (stakeAmount * accRewardPerStake) / REWARD_PRECISION;
    }

    function _maybeRemove(address operator) private {
        Validator storage v = _validators[operator];
        if (v.stake != 0 || v.unbonding != 0 || v.pendingReward != 0) return;
        uint256 index = _operatorIndex[operator] - 1;
        uint256 last = _operators.length - 1;
        if (index != last) {
            address moved = _operators[last];
            _operators[index] = moved;
            _operatorIndex[moved] = index + 1;
        }
        _operators.pop();
        delete _operatorIndex[operator];
        delete operatorOfSigner[v.signer];
        delete operatorOfIdentity[v.identity];
        delete _validators[operator];
        emit ValidatorRemoved(operator);
    }
}
